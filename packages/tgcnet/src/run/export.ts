// `tgcnet export`: a trained model as a folder that stands alone: the chosen checkpoint's
// weights (safetensors), the run record, the tokenizer, the auxiliary prompts, a frozen
// pretrained CLIP's config and weights when the run used one, and a model card (README.md)
// saying what it is for, what it was trained on, how well it did and where it came from.
// The folder is itself a run folder: predict, eval and serve load it as they load a run.
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { resolveClipFiles } from '../clip/checkpoint.js';
import { resolveCheckpoint, runTokenizerPath } from './checkpoint.js';
import { bundleTokenizer, bundledAuxFile, runPath } from './portable.js';
import { type RunRecord, readJsonFile, readRunRecord } from './record.js';
import { makeDir } from '../fs/make_dir.js';

export interface ExportResult {
  out: string;
  files: string[];
}

function metricLine(metrics: Record<string, unknown>): string {
  const val = metrics.val as { diceMicro?: number; diceMacro?: number } | undefined;
  if (!val || typeof val.diceMicro !== 'number') return 'No validation metrics were recorded with this checkpoint.';
  return `Validation Dice ${val.diceMicro.toFixed(4)} micro / ${(val.diceMacro ?? Number.NaN).toFixed(4)} macro at step ${String(metrics.step ?? '?')} (threshold 0.5; micro pools pixels over the split, macro averages per image).`;
}

export function modelCard(record: RunRecord, metrics: Record<string, unknown>, source: string): string {
  const t = record.train;
  const p = record.provenance;
  const text = record.model.text === 'none' ? 'no text (the text-free ablation)' : `text mode ${record.model.text}`;
  return `# TGC-Net (${t.preset ?? 'custom'} preset), exported by tgcnet

Text-guided segmentation: a greyscale image and a clinical prompt in, the mask of what the
prompt describes out. Encoder ${record.model.encoder}, ${text}, alignment ${record.model.alignment}.

## Intended use

Research on text-guided medical image segmentation. **Not a medical device**: it has not been
validated for diagnosis or treatment, and its masks must not guide clinical decisions.

## Use

\`\`\`sh
npx tgcnet predict --checkpoint . --image cxr.png --text "Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung." --out mask.png
npx tgcnet serve --checkpoint .
\`\`\`

## Training data

${record.data.format} data from \`${basename(record.data.root)}\`${t.valHalf ? `, selected on validation half ${t.valHalf}` : ''}.
Options: ${['epochs', 'batch', 'lr', 'seed', 'maxMinutes', 'augment', 'promptAugment', 'auxPrompts'].filter((k) => (t as Record<string, unknown>)[k] !== undefined).map((k) => `${k} ${JSON.stringify((t as Record<string, unknown>)[k])}`).join(', ')}.
CLIP: ${record.clipSource === null ? 'trained from the preset (no pretrained weights)' : 'pretrained and frozen (weights in clip/)'}.

## Results

${metricLine(metrics)}

## Provenance

Exported from \`${basename(source)}\`. ${p ? `Trained with tgcnet ${p.tgcnetVersion} (commit ${p.commit ?? 'unknown'}), libtorch ${p.libtorch}, Node ${p.node}, on ${p.cpu} with ${p.threads} thread(s); started ${p.recordedAt}.` : 'This run predates provenance records.'}

## Limitations

Synthetic or small-scale training as recorded above; masks are thresholded at 0.5; the model reads
only the first 77 tokens of a prompt.
`;
}

/** Writes the export into a temporary folder, then renames it into place. */
export function exportRun(checkpoint: string, out: string): ExportResult {
  const { runDir, checkpointDir } = resolveCheckpoint(checkpoint);
  const record = readRunRecord(runDir);
  const target = resolve(out);
  if (existsSync(target)) throw new Error(`${target} already exists: choose a new --out (an export is never written over)`);
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  makeDir(join(tmp, 'best'));
  try {
    copyFileSync(join(checkpointDir, 'model.safetensors'), join(tmp, 'best', 'model.safetensors'));
    const metricsFile = join(checkpointDir, 'metrics.json');
    const metrics = existsSync(metricsFile) ? (readJsonFile(metricsFile, 'checkpoint metrics') as Record<string, unknown>) : {};
    writeFileSync(join(tmp, 'best', 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
    const exported: RunRecord = { ...record, tokenizer: bundleTokenizer(tmp, runTokenizerPath(runDir, record)) };
    if (existsSync(bundledAuxFile(runDir))) copyFileSync(bundledAuxFile(runDir), bundledAuxFile(tmp));
    if (record.clipSource !== null) {
      // The frozen CLIP's weights are not in checkpoints: an export must carry them.
      const source = runPath(runDir, record.clipSource);
      const files = resolveClipFiles(source);
      makeDir(join(tmp, 'clip'));
      for (const f of [files.config, ...files.weights, files.preprocessor].filter((x): x is string => x !== null)) copyFileSync(f, join(tmp, 'clip', basename(f)));
      // A sharded checkpoint needs its index too.
      const index = join(source, 'model.safetensors.index.json');
      if (files.weights.length > 1 && existsSync(index)) copyFileSync(index, join(tmp, 'clip', 'model.safetensors.index.json'));
      exported.clipSource = 'clip';
    }
    writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(exported, null, 2)}\n`);
    writeFileSync(join(tmp, 'README.md'), modelCard(record, metrics, runDir));
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { out: target, files: listFiles(target) };
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out.sort();
}
