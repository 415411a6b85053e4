// `tgcnet eval`: a checkpoint on a dataset split -> Dice/IoU (macro and micro), per-case
// CSV, optionally an HTML report and a shuffled-prompt control (does the text matter?).
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { isWithin } from '../fs/real_path.js';
import sharp from 'sharp';
import { openDataset } from '../data/detect.js';
import { usesAux } from '../model/tgcnet.js';
import { type ValHalf, inValHalf } from '../data/val_half.js';
import { mulberry32 } from '../random.js';
import type { CaseRecord, FormatName, Split } from '../data/types.js';
import { formatProblems, validateDataset } from '../data/validate.js';
import { withMaskThreshold } from '../data/mask_values.js';
import { attachNegativePrompts, readNegativePrompts } from '../data/negative_prompts.js';
import { type Provenance, collectProvenance } from '../run/provenance.js';
import { type Execution, type Precision, resolveExecution } from '../model/execution.js';
import { resolveClipArg } from '../clip/hub.js';
import { warnToStderr } from '../prompts/store.js';
import { type RunOverrides, loadRun, openRunAux } from '../run/checkpoint.js';
import { type Evaluation, type PromptOverride, evaluateCases } from './evaluate.js';
import { type Summary, diceOf } from './metrics.js';
import { type DiceIntervals, bootstrapDice } from './bootstrap.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { readLungZones } from '../prompts/zones.js';
import { type ReportCase, writeReport } from './report.js';
import { makeDir } from '../fs/make_dir.js';

export interface EvalOptions extends RunOverrides {
  checkpoint: string;
  data: string;
  split: Split;
  format?: FormatName;
  batch?: number;
  report?: string;
  csv?: string;
  shufflePrompts?: boolean;
  skipBad?: boolean;
  limit?: number;
  seed?: number;
  /** Auxiliary prompts JSONL or 'offline' (default: the run's, else <data>/aux_prompts.jsonl). */
  auxPrompts?: string;
  /** Evaluate only this hashed half of the split (data/val_half.ts). */
  valHalf?: ValHalf;
  /** Binarise 2-D mask files at this value (default: the run's --mask-threshold, else the automatic rule). */
  maskThreshold?: number;
  /** Foreground where the predicted probability is > threshold (default 0.5). */
  threshold?: number;
  /** Test-time augmentation ('flip': the mirrored image under the left/right-swapped prompt, probabilities averaged). */
  tta?: 'flip' | null;
  /** NSD tolerance in spacing units: mm where the file gives a spacing, else pixels (default 2). */
  nsdTolerance?: number;
  /** Write each case's probability map here as a 16-bit PNG (<id>_prob.png, probability x 65535). */
  saveProbabilities?: string;
  /** Volumes (MSD): also score the slices where the organ is absent, so false positives there count. */
  includeEmptySlices?: boolean;
  /** Called as cases are done (a progress bar). */
  onProgress?: (done: number, total: number) => void;
  /** cpu (default), cuda or cuda:N. */
  device?: string;
  /** Autocast precision of the forward pass (default fp32). */
  precision?: Precision;
}

export interface EvalResult {
  checkpoint: string;
  data: string;
  split: Split;
  cases: number;
  dice: { macro: number; micro: number };
  iou: { macro: number; micro: number };
  /** 95% bootstrap intervals of the Dice (1000 resamples of the cases, seeded). */
  diceCi: DiceIntervals | null;
  /** HD95 (median and mean over defined cases) and NSD at `nsdTolerance`, MONAI's conventions. */
  surface: Summary['surface'] & { tolerance: number; spacing: 'mm (from the files)' | 'pixels' | 'mixed' };
  /** Cases with an empty ground truth and/or prediction. */
  empty: NonNullable<Summary['empty']>;
  /** Dice per prompt, most frequent first. */
  perPrompt: { prompt: string; cases: number; diceMacro: number; diceMicro: number }[];
  /** Dice per lung zone the prompts name ("upper left", ...; a case counts in each zone its prompt names); empty when no prompt names one. */
  perZone: { zone: string; cases: number; diceMacro: number; diceMicro: number }[];
  threshold: number;
  /** The test-time augmentation the scores were made with ('none': the image as given). */
  tta: 'none' | 'flip';
  shuffledPrompts?: { dice: { macro: number; micro: number }; iou: { macro: number; micro: number } };
  /**
   * Each case asked its first negative prompt (one naming only zones it has no lesion in, from
   * <data>/negative_prompts.jsonl), whose right answer is an empty mask; absent when the dataset
   * has no such file. `areaRatio`: pixels marked under those prompts / pixels marked under the cases' own prompts.
   */
  negativePrompts?: { cases: number; emptyFraction: number; meanArea: number; areaRatio: number };
  csv: string | null;
  report: string | null;
  /** Where this evaluation ran, and where the evaluated run was trained (null for older runs). */
  provenance: { evaluation: Provenance; training: Provenance | null };
  /** Where and in what precision the model ran. */
  execution: Execution;
}

/**
 * Each case gets another case's prompt, with that case's auxiliary text (a seeded derangement),
 * so the control changes what the text says, not only half of it.
 */
export function shuffledPrompts(cases: readonly CaseRecord[], seed: number): Map<string, PromptOverride> {
  const rand = mulberry32(seed);
  const order = cases.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  // Rotate by one so no case keeps its own prompt.
  return new Map(
    cases.map((c, i) => {
      const donor = cases[order[(order.indexOf(i) + 1) % order.length]];
      return [c.id, { prompt: donor.text, aux: donor.aux }];
    }),
  );
}

/** Dice per lung zone named by the prompts (prompts/zones.ts reads any wording). */
function zoneBreakdown(evaluation: Evaluation): { zone: string; cases: number; diceMacro: number; diceMicro: number }[] {
  const zonesOf = (c: { prompt?: string }) => [...new Set((readLungZones(c.prompt ?? '') ?? []).map((z) => `${z.level} ${z.side}`))];
  return evaluation.metric.byGroup(zonesOf).map(({ group, ...rest }) => ({ zone: group, ...rest }));
}

/** What a run folder is made of: an output there would destroy the run being evaluated. */
const RUN_PARTS = ['config.json', 'metrics.jsonl', 'best', 'last', 'tokenizer', 'clip', 'aux_prompts.jsonl'];

function refuseWritingIntoRun(runDir: string, outputs: Record<string, string | undefined>): void {
  for (const [flag, path] of Object.entries(outputs)) {
    if (path === undefined) continue;
    const hit = RUN_PARTS.map((p) => join(runDir, p)).find((p) => isWithin(path, p));
    if (hit) throw new Error(`${flag} ${path} would write over ${hit}, part of the run being evaluated: write it elsewhere (e.g. ${join(runDir, 'report')})`);
  }
}

/** Outputs inside the dataset would replace its files, or be read as cases next time. */
function refuseWritingIntoData(data: string, outputs: Record<string, string | undefined>): void {
  const root = statSync(data, { throwIfNoEntry: false })?.isDirectory() ? data : dirname(data);
  for (const [flag, path] of Object.entries(outputs)) {
    if (path !== undefined && isWithin(path, root)) throw new Error(`${flag} ${path} is inside the dataset ${root}: write it elsewhere, so the data stays as it is`);
  }
}

/** Before the evaluation, not after it: an output that cannot be written is said at once. */
function checkOutputsWritable(options: EvalOptions): void {
  const csv = options.csv ?? (options.report ? join(options.report, 'cases.csv') : undefined);
  if (csv !== undefined) {
    if (statSync(csv, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--csv ${csv} is a folder: give a file name, e.g. ${join(csv, 'cases.csv')}`);
    makeDir(dirname(resolve(csv)), 'folder for the per-case CSV');
  }
  if (options.report) makeDir(options.report, 'report folder');
  if (options.saveProbabilities) makeDir(options.saveProbabilities, 'probability folder');
}

function foreground(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** A probability map as a 16-bit greyscale PNG (value = probability x 65535). */
async function writeProbabilityPng(path: string, probabilities: Float32Array, width: number, height: number): Promise<void> {
  const pixels = new Uint16Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.round(Math.min(1, Math.max(0, probabilities[i])) * 65535);
  const png = await sharp(Buffer.from(pixels.buffer), { raw: { width, height, channels: 1 } }).toColourspace('grey16').png().toBuffer();
  writeFileAtomic(path, png);
}

export async function evaluateRun(options: EvalOptions): Promise<EvalResult> {
  if (options.tta !== undefined && options.tta !== null && options.tta !== 'flip') throw new Error(`tta '${String(options.tta)}': the test-time augmentations are 'flip' (or none)`);
  const clip = options.clip ? (await resolveClipArg(options.clip)).path : undefined;
  const loaded = loadRun(options.checkpoint, { clip, tokenizer: options.tokenizer }, resolveExecution(options));
  try {
    const outputs = { '--csv': options.csv, '--report': options.report, '--save-probabilities': options.saveProbabilities };
    refuseWritingIntoRun(loaded.runDir, outputs);
    refuseWritingIntoData(options.data, outputs);
    checkOutputsWritable(options);
    const dataset = await openDataset(options.data, { format: options.format, splits: [options.split], ...(options.includeEmptySlices ? { msd: { emptyFraction: 1 } } : {}) });
    const threshold = options.maskThreshold ?? loaded.run.train.maskThreshold;
    let cases = withMaskThreshold(inValHalf(dataset.cases.filter((c) => c.split === options.split), options.valHalf), threshold);
    if (cases.length === 0) throw new Error(`${options.data}: no '${options.split}' cases (format ${dataset.format})`);
    const model = loaded.run.model;
    const negatives = readNegativePrompts(options.data);
    if (negatives) attachNegativePrompts(cases, negatives.byId);
    if (usesAux(model)) {
      const auxPrompts = openRunAux(loaded, options.auxPrompts, warnToStderr);
      const missing = auxPrompts.missingWarning(auxPrompts.attach(cases));
      if (missing) warnToStderr(missing);
    }
    // Every mask empty is a warning here, not a refusal: scoring a model on normal films is a
    // real question (its false positives), where training on them is not.
    const found = await validateDataset({ ...dataset, cases }, { checkPixels: true });
    for (const p of found.filter((p) => p.wholeDataset)) warnToStderr(p.message);
    const problems = found.filter((p) => !p.wholeDataset);
    if (problems.length > 0) {
      if (!options.skipBad) throw new Error(`${options.data}: ${problems.length} bad case(s); fix them or pass --skip-bad:\n${formatProblems(problems)}`);
      const bad = new Set(problems.map((p) => p.where));
      cases = cases.filter((c) => !bad.has(c.id));
    }
    if (options.limit) cases = cases.slice(0, options.limit);
    const keep = new Map<string, ReportCase>();
    const tolerance = options.nsdTolerance ?? 2;
    const spacings = new Set<string>();
    let ownArea = 0;
    const probabilityDir = options.saveProbabilities ? makeDir(options.saveProbabilities, 'probability folder') : null;
    const writes: Promise<void>[] = [];
    // The same model, input sizes and threshold for the scores, the shuffled-prompt control and the negative prompts.
    const scoring = {
      config: loaded.run.model,
      tokenizer: loaded.tokenizer,
      batch: options.batch ?? 8,
      atOriginalSize: true,
      execution: loaded.execution,
      threshold: options.threshold,
      tta: options.tta ?? null,
    };
    const evaluation: Evaluation = await evaluateCases(loaded.model, cases, {
      ...scoring,
      surface: { tolerance },
      probabilities: probabilityDir !== null,
      onProgress: options.onProgress,
      onPrediction: (c, prediction, width, height, _mean, probabilities) => {
        ownArea += foreground(prediction);
        spacings.add(c.original.spacing ? 'mm (from the files)' : 'pixels');
        if (probabilityDir && probabilities) writes.push(writeProbabilityPng(join(probabilityDir, `${safeName(c.record.id)}_prob.png`), probabilities, width, height));
        if (!options.report || !c.original.image || !c.original.mask) return;
        keep.set(c.record.id, {
          counts: { id: c.record.id, intersection: 0, predicted: 0, actual: 0 },
          text: c.record.text,
          width,
          height,
          image: c.original.image,
          truth: c.original.mask,
          prediction,
        });
      },
    });
    await Promise.all(writes);
    let control: Evaluation | null = null;
    if (options.shufflePrompts) {
      control = await evaluateCases(loaded.model, cases, {
        ...scoring,
        prompts: shuffledPrompts(cases, options.seed ?? 0),
      });
    }
    let negativeScore: EvalResult['negativePrompts'] | undefined;
    const asked = cases.filter((c) => (c.negatives?.length ?? 0) > 0);
    if (asked.length > 0) {
      let area = 0;
      let empty = 0;
      await evaluateCases(loaded.model, asked, {
        ...scoring,
        prompts: new Map(asked.map((c) => [c.id, c.negatives![0]])),
        onPrediction: (_c, prediction) => {
          const n = foreground(prediction);
          area += n;
          if (n === 0) empty++;
        },
      });
      negativeScore = { cases: asked.length, emptyFraction: empty / asked.length, meanArea: area / asked.length, areaRatio: ownArea > 0 ? area / ownArea : 0 };
    }
    const diceCi = bootstrapDice(evaluation.metric.cases, { seed: options.seed ?? 0 });
    const perPrompt = evaluation.metric.byPrompt();
    const perZone = zoneBreakdown(evaluation);
    let csv: string | null = null;
    if (options.csv || options.report) {
      csv = resolve(options.csv ?? join(options.report!, 'cases.csv'));
      writeFileAtomic(csv, evaluation.metric.toCsv());
    }
    let report: string | null = null;
    if (options.report) {
      const ranked = [...evaluation.metric.cases].sort((a, b) => diceOf(b) - diceOf(a));
      const pick = (list: typeof ranked) =>
        list
          .map((counts) => {
            const c = keep.get(counts.id);
            return c ? { ...c, counts } : null;
          })
          .filter((c): c is ReportCase => c !== null);
      const n = Math.min(6, Math.floor(ranked.length / 2));
      const reportDir = resolve(options.report);
      // Paths as the user sees them from where they ran the command, never absolute.
      const shown = (p: string) => relative(process.cwd(), p) || '.';
      report = await writeReport(reportDir, {
        title: `tgcnet evaluation: ${options.split} split of ${shown(resolve(options.data))}`,
        summary: evaluation,
        diceCi,
        perPrompt,
        perZone,
        caseDice: evaluation.metric.cases.map((c) => diceOf(c)),
        threshold: options.threshold ?? 0.5,
        nsdTolerance: tolerance,
        extraRows: control ? [{ label: 'same model, shuffled prompts', summary: control }] : [],
        negativePrompts: negativeScore,
        metricsLog: join(loaded.runDir, 'metrics.jsonl'),
        best: pick(ranked.slice(0, n)),
        worst: pick(ranked.slice(-n).reverse()),
        facts: {
          checkpoint: shown(loaded.checkpointDir),
          preset: loaded.run.train.preset ?? 'custom',
          ablation: `encoder ${loaded.run.model.encoder}, text ${loaded.run.model.text}, alignment ${loaded.run.model.alignment}`,
          'test-time augmentation': options.tta === 'flip' ? 'flip (mirrored image, left and right swapped in the prompt; probabilities averaged)' : 'none',
          data: `${shown(resolve(options.data))} (${options.split}, ${cases.length} cases)`,
          generated: new Date().toISOString(),
        },
      });
    }
    const summary = (e: Evaluation) => ({ dice: e.dice, iou: e.iou });
    const surface = evaluation.surface ?? { hd95: { mean: Number.NaN, median: Number.NaN, cases: 0 }, nsd: { mean: Number.NaN, cases: 0 } };
    return {
      checkpoint: loaded.checkpointDir,
      data: resolve(options.data),
      split: options.split,
      cases: evaluation.cases,
      ...summary(evaluation),
      diceCi,
      surface: { ...surface, tolerance, spacing: spacings.size > 1 ? 'mixed' : spacings.has('mm (from the files)') ? 'mm (from the files)' : 'pixels' },
      empty: evaluation.empty ?? { both: 0, truthOnly: 0, predictionOnly: 0 },
      perPrompt,
      perZone,
      threshold: options.threshold ?? 0.5,
      tta: options.tta ?? 'none',
      ...(control ? { shuffledPrompts: summary(control) } : {}),
      ...(negativeScore ? { negativePrompts: negativeScore } : {}),
      csv,
      report,
      provenance: { evaluation: collectProvenance(), training: loaded.run.provenance ?? null },
      execution: loaded.execution,
    };
  } finally {
    loaded.model.dispose();
  }
}
