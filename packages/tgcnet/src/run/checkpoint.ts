// Run folders and checkpoints. A run folder holds config.json (everything needed to
// rebuild the model), best/ and last/ checkpoints and metrics.jsonl. Checkpoints are
// written into a temporary folder, then swapped in by rename: an interrupted write leaves
// the previous checkpoint intact.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Tensor, loadSafetensors, saveSafetensors, tidy } from '@tgcnet/torch';
import { loadClipText, loadClipVision } from '../clip/checkpoint.js';
import { ClipTokenizer } from '../clip/tokenizer.js';
import { type TgcConfig, parseTgcConfig } from '../model/config.js';
import { TgcNet } from '../model/tgcnet.js';
import type { Provenance } from '../run/provenance.js';
import type { SchedulePlan } from './plan.js';

export interface RunConfig {
  /** The resolved model configuration. */
  model: TgcConfig;
  /** Where the frozen CLIP came from (its weights are not copied into checkpoints), or null. */
  clipSource: string | null;
  /** The tokenizer files (a folder, tokenizer.json or OpenAI's BPE file). */
  tokenizer: string;
  /** The training options, for the record. */
  train: Record<string, unknown>;
  /** The dataset the run trained on, for the record. */
  data: { root: string; format: string };
  createdAt: string;
  tgcnetVersion: string;
  /** Code, engine, machine and command of the run's first invocation (absent in older runs). */
  provenance?: Provenance;
  /** Each --resume appends the provenance of the invocation that continued the run. */
  resumedBy?: Provenance[];
}

export interface TrainState {
  epoch: number;
  /** Batches of `epoch` already done (resume starts at this batch). */
  batchInEpoch: number;
  globalStep: number;
  bestDice: number;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  elapsedSeconds: number;
  /** The step plan (older runs' state.json lacks it: they followed epochs x batches). */
  plan: SchedulePlan;
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export function writeRunConfig(runDir: string, config: RunConfig): void {
  mkdirSync(runDir, { recursive: true });
  writeJsonAtomic(join(runDir, 'config.json'), config);
}

export function readRunConfig(runDir: string): RunConfig {
  const path = join(runDir, 'config.json');
  if (!existsSync(path)) throw new Error(`${runDir} is not a tgcnet run folder (no config.json): pass the folder train --out wrote`);
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RunConfig;
  return { ...raw, model: parseTgcConfig(raw.model, path) };
}

/** Keys of weights that checkpoints leave out: the frozen, pretrained CLIP towers. */
export function excludedFromCheckpoint(model: TgcNet, run: Pick<RunConfig, 'clipSource'>): (key: string) => boolean {
  return (key) => {
    if (run.clipSource === null) return false;
    if (key.startsWith('clip_text.')) return !model.textTrainable;
    if (key.startsWith('clip_vision.')) return !model.visionTrainable;
    return false;
  };
}

export interface CheckpointContent {
  model: TgcNet;
  run: RunConfig;
  metrics: Record<string, unknown>;
  optimizer?: { step: number; tensors: Map<string, Tensor> };
  state?: TrainState;
}

/** Writes `<runDir>/<name>/` atomically: model.safetensors, metrics.json, optimizer + state. */
export function saveCheckpoint(runDir: string, name: 'best' | 'last', content: CheckpointContent): void {
  const final = join(runDir, name);
  const tmp = join(runDir, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const skip = excludedFromCheckpoint(content.model, content.run);
  const weights = new Map([...content.model.stateDict()].filter(([k]) => !skip(k)));
  saveSafetensors(join(tmp, 'model.safetensors'), weights, { format: 'pt', producer: 'tgcnet' });
  writeJsonAtomic(join(tmp, 'metrics.json'), content.metrics);
  if (content.optimizer) saveSafetensors(join(tmp, 'optimizer.safetensors'), content.optimizer.tensors, { step: String(content.optimizer.step) });
  if (content.state) writeJsonAtomic(join(tmp, 'state.json'), content.state);
  const old = join(runDir, `.${name}.old-${process.pid}`);
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

/** A run folder, a checkpoint folder inside one, or a model.safetensors inside that. */
export function resolveCheckpoint(path: string): { runDir: string; checkpointDir: string } {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist: pass a run folder (runs/<name>) or its best/ or last/`);
  let p = resolve(path);
  if (!statSync(p).isDirectory()) p = dirname(p);
  if (existsSync(join(p, 'config.json')) && existsSync(join(p, 'best', 'model.safetensors'))) return { runDir: p, checkpointDir: join(p, 'best') };
  if (existsSync(join(p, 'config.json')) && existsSync(join(p, 'last', 'model.safetensors'))) return { runDir: p, checkpointDir: join(p, 'last') };
  if (existsSync(join(p, 'model.safetensors')) && existsSync(join(p, '..', 'config.json'))) return { runDir: dirname(p), checkpointDir: p };
  throw new Error(`${path}: no checkpoint here (expected config.json with best/ or last/ holding model.safetensors)`);
}

export interface LoadedRun {
  model: TgcNet;
  run: RunConfig;
  tokenizer: ClipTokenizer;
  checkpointDir: string;
  runDir: string;
  metrics: Record<string, unknown>;
}

/** Rebuilds the model of a run (CLIP from its source when frozen) and loads the weights. */
export function loadRun(path: string): LoadedRun {
  const { runDir, checkpointDir } = resolveCheckpoint(path);
  const run = readRunConfig(runDir);
  const pretrained =
    run.clipSource === null
      ? null
      : {
          vision: run.model.encoder === 'cnn-only' ? null : loadClipVision(run.clipSource).model,
          text: loadClipText(run.clipSource).model,
        };
  const model = new TgcNet(run.model, pretrained);
  try {
    tidy(() => {
      const weights = loadSafetensors(join(checkpointDir, 'model.safetensors'));
      const result = model.loadStateDict(weights, { strict: false });
      const skip = excludedFromCheckpoint(model, run);
      const missing = result.missing.filter((k) => !skip(k));
      if (missing.length > 0 || result.unexpected.length > 0) {
        throw new Error(
          `${checkpointDir}/model.safetensors does not match its config: ` +
            `missing ${missing.slice(0, 10).join(', ') || 'none'}; unexpected ${result.unexpected.slice(0, 10).join(', ') || 'none'}`,
        );
      }
      for (const t of weights.values()) t.dispose();
    });
  } catch (err) {
    model.dispose();
    throw err;
  }
  const metricsPath = join(checkpointDir, 'metrics.json');
  const metrics = existsSync(metricsPath) ? (JSON.parse(readFileSync(metricsPath, 'utf8')) as Record<string, unknown>) : {};
  model.eval();
  return { model, run, tokenizer: ClipTokenizer.fromPath(run.tokenizer), checkpointDir, runDir, metrics };
}
