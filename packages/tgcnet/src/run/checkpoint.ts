// Run folders and checkpoints. A run folder holds config.json (everything needed to
// rebuild the model), best/ and last/ checkpoints and metrics.jsonl. Checkpoints are
// written into a temporary folder, then swapped in by rename: an interrupted write leaves
// the previous checkpoint intact.
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Tensor, aten, isFloatingPoint, loadSafetensors, saveSafetensors, tidy } from '@tgcnet/torch';
import { loadClipText, loadClipVision } from '../clip/checkpoint.js';
import { ClipTokenizer } from '../clip/tokenizer.js';
import { type PretrainedClip, TgcNet } from '../model/tgcnet.js';
import { AuxPrompts, OFFLINE_AUX } from '../prompts/aux_prompts.js';
import { bundledAuxFile, runPath } from './portable.js';
import { type RunRecord, readJsonFile, readRunRecord } from './record.js';
import { makeDir } from '../fs/make_dir.js';
import { CPU_FP32, type Execution } from '../model/execution.js';

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export function writeRunRecord(runDir: string, record: RunRecord): void {
  makeDir(runDir);
  writeJsonAtomic(join(runDir, 'config.json'), record);
}

/** Keys of weights that checkpoints leave out: the frozen, pretrained CLIP towers. */
export function excludedFromCheckpoint(model: TgcNet, run: Pick<RunRecord, 'clipSource'>): (key: string) => boolean {
  return (key) => {
    if (run.clipSource === null) return false;
    if (key.startsWith('clip_text.')) return !model.textTrainable;
    if (key.startsWith('clip_vision.')) return !model.visionTrainable;
    return false;
  };
}

export interface CheckpointContent {
  model: TgcNet;
  run: RunRecord;
  metrics: Record<string, unknown>;
  optimizer?: { step: number; tensors: Map<string, Tensor> };
  /** The training loop's state (state.json), stored as it is: its meaning belongs to train/. */
  state?: object;
}

/** Writes `<runDir>/<name>/` atomically: model.safetensors, metrics.json, optimizer + state. */
export function saveCheckpoint(runDir: string, name: 'best' | 'last', content: CheckpointContent): void {
  const final = join(runDir, name);
  const tmp = join(runDir, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  makeDir(tmp);
  const skip = excludedFromCheckpoint(content.model, content.run);
  const weights = new Map([...content.model.stateDict()].filter(([k]) => !skip(k)));
  try {
    saveSafetensors(join(tmp, 'model.safetensors'), weights, { format: 'pt', producer: 'tgcnet' });
    writeJsonAtomic(join(tmp, 'metrics.json'), content.metrics);
    if (content.optimizer) saveSafetensors(join(tmp, 'optimizer.safetensors'), content.optimizer.tensors, { step: String(content.optimizer.step) });
    if (content.state) writeJsonAtomic(join(tmp, 'state.json'), content.state);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EFBIG' ? 'the file size limit was reached' : code === 'EDQUOT' ? 'the disk quota is used up' : (err as Error).message;
    const kept = existsSync(final) ? `the previous ${name}/ is intact` : `there is no earlier ${name}/`;
    throw new Error(`cannot write the ${name}/ checkpoint in ${runDir}: ${why}; ${kept}. Free space, then continue with --resume`);
  }
  const old = join(runDir, `.${name}.old-${process.pid}`);
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Puts a run folder back in order after a kill or a full disk during a write. saveCheckpoint
 * moves the old folder aside, then the new one into place: killed between the two, only
 * `.<name>.old-PID` holds the checkpoint, and it is moved back. Half-written `.<name>.tmp-PID`
 * folders and `*.tmp-PID` files are removed. Returns one line per repair, for the log.
 */
export function recoverRunFolder(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  const done: string[] = [];
  const entries = readdirSync(runDir);
  for (const name of ['best', 'last'] as const) {
    const final = join(runDir, name);
    const old = entries.find((e) => new RegExp(`^\\.${name}\\.old-\\d+$`).test(e));
    if (old !== undefined && !existsSync(final)) {
      renameSync(join(runDir, old), final);
      done.push(`restored ${name}/ from ${old} (a checkpoint write was interrupted)`);
    }
  }
  for (const e of readdirSync(runDir)) {
    if (/^\.(best|last)\.(tmp|old)-\d+$/.test(e) || /\.tmp-\d+$/.test(e)) {
      rmSync(join(runDir, e), { recursive: true, force: true });
      done.push(`removed ${e}, left by an interrupted write`);
    }
  }
  return done;
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
  run: RunRecord;
  tokenizer: ClipTokenizer;
  checkpointDir: string;
  runDir: string;
  metrics: Record<string, unknown>;
  /** Where the model is and the precision its forward pass runs in. */
  execution: Execution;
}

/** The frozen, pretrained CLIP a run records, loaded from its source; null when the run trained its own. */
export function pretrainedClipOf(run: Pick<RunRecord, 'clipSource' | 'model'>): PretrainedClip | null {
  if (run.clipSource === null) return null;
  return {
    vision: run.model.encoder === 'cnn-only' ? null : loadClipVision(run.clipSource).model,
    text: loadClipText(run.clipSource).model,
  };
}

/**
 * Refuses weights a model cannot hold honestly: an integer or boolean tensor where the model
 * has floats (or the reverse), and NaN or infinite values, each named. A float of another
 * width (float16, bfloat16, float64) is cast to the model's, and the cast is said.
 */
export function checkWeights(weights: Map<string, Tensor>, own: Map<string, Tensor>, file: string, warn: (message: string) => void): void {
  const casts = new Map<string, string[]>();
  for (const [key, t] of weights) {
    const target = own.get(key);
    if (target === undefined) continue;
    if (t.dtype !== target.dtype) {
      if (!isFloatingPoint(t.dtype) || !isFloatingPoint(target.dtype)) {
        throw new Error(
          `${file}: tensor '${key}' is ${t.dtype} but the model holds ${target.dtype}: this is not a checkpoint of this model, or it is damaged; ` +
            'pass the best/ or last/ folder tgcnet train wrote',
        );
      }
      const kind = `${t.dtype} -> ${target.dtype}`;
      casts.set(kind, [...(casts.get(kind) ?? []), key]);
    }
    if (isFloatingPoint(t.dtype) && !aten.isfinite(t).all().item()) {
      throw new Error(
        `${file}: tensor '${key}' holds NaN or infinite values (the run diverged, or the file is damaged): ` +
          'use another checkpoint; best/ keeps the weights with the best validation score',
      );
    }
  }
  for (const [kind, keys] of casts) warn(`${file}: casting ${keys.length} tensor(s) ${kind} (first: ${keys[0]})`);
}

const warnOnStderr = (message: string) => process.stderr.write(`tgcnet: warning: ${message}\n`);

/**
 * Loads a checkpoint's weights into the model, strictly: every key the model has must be in
 * the file and no other, except the frozen pretrained CLIP the run records (not copied into
 * checkpoints); dtypes and values are checked (checkWeights). Resume, evaluation, prediction
 * and serving all load through here.
 */
export function loadWeights(model: TgcNet, run: RunRecord, checkpointDir: string, warn: (message: string) => void = warnOnStderr): void {
  tidy(() => {
    const file = join(checkpointDir, 'model.safetensors');
    const weights = loadSafetensors(file);
    try {
      checkWeights(weights, model.stateDict(), file, warn);
      const result = model.loadStateDict(weights, { strict: false });
      const skip = excludedFromCheckpoint(model, run);
      const missing = result.missing.filter((k) => !skip(k));
      if (missing.length > 0 || result.unexpected.length > 0) {
        throw new Error(
          `${file} does not match its config: ` +
            `missing ${missing.slice(0, 10).join(', ') || 'none'}; unexpected ${result.unexpected.slice(0, 10).join(', ') || 'none'}`,
        );
      }
    } finally {
      for (const t of weights.values()) t.dispose();
    }
  });
}

/** Files a run records that a user may point elsewhere (a copied run, another machine). */
export interface RunOverrides {
  /** The pretrained CLIP (Hugging Face folder or .safetensors) for a run that froze one. */
  clip?: string;
  /** The tokenizer files (folder, tokenizer.json or bpe_simple_vocab_16e6.txt.gz). */
  tokenizer?: string;
}

/** The run's tokenizer: the override, else its own copy (or the path an older run recorded). */
export function runTokenizerPath(runDir: string, run: RunRecord, overrides: RunOverrides = {}): string {
  if (overrides.tokenizer) {
    if (!existsSync(overrides.tokenizer)) throw new Error(`--tokenizer ${overrides.tokenizer} does not exist`);
    return overrides.tokenizer;
  }
  const path = runPath(runDir, run.tokenizer);
  if (!existsSync(path)) {
    throw new Error(`${runDir}: its tokenizer ${path} is missing (runs made before tokenizers were copied into them point outside): pass --tokenizer <bpe_simple_vocab_16e6.txt.gz or a folder>`);
  }
  return path;
}

/** Rebuilds the model of a run (CLIP from its source when frozen) and loads the weights. */
/**
 * A run's model, ready to predict: weights from the checkpoint (device-independent), then moved
 * to `execution.device` (default: CPU, fp32; see resolveExecution for --device/--precision).
 */
export function loadRun(path: string, overrides: RunOverrides = {}, execution: Execution = CPU_FP32): LoadedRun {
  const { runDir, checkpointDir } = resolveCheckpoint(path);
  const recorded = readRunRecord(runDir);
  // An export carries its CLIP in clip/ (stored relative); a run points at where it was.
  const clipPath = recorded.clipSource === null ? null : runPath(runDir, recorded.clipSource);
  if (clipPath !== null && !overrides.clip && !existsSync(clipPath)) {
    const byName = recorded.clipHub ? ` or --clip ${recorded.clipHub.repo}@${recorded.clipHub.commit} (the revision it trained with)` : '';
    throw new Error(`${runDir} froze a pretrained CLIP from ${clipPath}, which is not here (runs do not copy its weights; \`tgcnet export\` does): pass --clip <folder or .safetensors>${byName}`);
  }
  const run = clipPath === null ? recorded : { ...recorded, clipSource: overrides.clip ? resolve(overrides.clip) : clipPath };
  const tokenizer = ClipTokenizer.fromPath(runTokenizerPath(runDir, run, overrides));
  const model = new TgcNet(run.model, pretrainedClipOf(run));
  try {
    loadWeights(model, run, checkpointDir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  const metricsPath = join(checkpointDir, 'metrics.json');
  const metrics = existsSync(metricsPath) ? (readJsonFile(metricsPath, 'checkpoint metrics') as Record<string, unknown>) : {};
  model.eval();
  if (execution.device !== 'cpu') model.to(execution.device);
  return { model, run, tokenizer, checkpointDir, runDir, metrics, execution };
}

/**
 * Where a run's auxiliary texts come from now: 'offline', the run's own copy of its prompts
 * file, else what it recorded (a path, or nothing: the file beside its dataset, if any).
 */
export function runAuxSpec(loaded: Pick<LoadedRun, 'run' | 'runDir'>): string | undefined {
  const recorded = loaded.run.train.auxPrompts;
  if (recorded === OFFLINE_AUX) return recorded;
  const own = bundledAuxFile(loaded.runDir);
  return existsSync(own) ? own : recorded;
}

/**
 * The auxiliary prompts of a loaded run, opened once: `explicit` (a --aux-prompts), else what
 * runAuxSpec says. A file the run recorded that is gone (a moved dataset) falls back to the
 * dataset's own file, with a warning; an explicit file that is missing is an error.
 */
export function openRunAux(loaded: Pick<LoadedRun, 'run' | 'runDir'>, explicit?: string, warn: (message: string) => void = () => {}): AuxPrompts {
  const spec = explicit ?? runAuxSpec(loaded);
  if (explicit === undefined && spec !== undefined && spec !== OFFLINE_AUX && !existsSync(spec)) {
    warn(`${spec}, the auxiliary prompts this run trained with, is gone: looking beside the dataset instead`);
    return AuxPrompts.open(undefined, loaded.run.data.root, warn);
  }
  return AuxPrompts.open(spec, loaded.run.data.root, warn);
}
