// `tgcnet predict`: a prompt and an image (PNG/JPEG/..., single-frame DICOM, or a NIfTI
// volume: every axial slice) -> a mask at the input's own size (PNG, or NIfTI with the
// input's geometry), an optional overlay, JSON with area and mean probability. The batch
// form (--image <folder>, or --manifest) writes one mask per case and predictions.csv into
// --out; a bad case is reported and skipped, and the command fails at the end if any did.
import { statSync } from 'node:fs';
import { setVolumeLimits } from '../data/images.js';
import { basename } from 'node:path';
import { isWithin, realPathOf } from '../fs/real_path.js';
import { overlayFormat } from '../infer/images_io.js';
import type { WindowChoice } from '../data/formats/msd.js';
import { predictBatch } from '../infer/predict_batch.js';
import { type PredictResult, predictCase, useAuxPrompts } from '../infer/predict_case.js';
import { type PredictCase, casesFromFolder, casesFromManifest, inputStem } from '../infer/predict_inputs.js';
import { resolveClipArg } from '../clip/hub.js';
import { type RunOverrides, loadRun } from '../run/checkpoint.js';
import { type Precision, resolveExecution } from '../model/execution.js';

export interface PredictOptions extends RunOverrides {
  checkpoint: string;
  /** cpu (default), cuda or cuda:N. */
  device?: string;
  /** Autocast precision of the forward pass (default fp32). */
  precision?: Precision;
  image?: string;
  manifest?: string;
  text?: string;
  aux?: string;
  /** Auxiliary prompts looked up by prompt when a case has no aux: a JSONL file or 'offline'. */
  auxPrompts?: string;
  out: string;
  overlay?: string;
  /** NIfTI intensity window: ct (default, [-160, 240] HU), percentile, or "lo,hi". */
  window?: string;
  /** Limits on a NIfTI volume before it is decoded (data/images.ts VolumeLimits). */
  maxVolumeMb?: number;
  maxSlices?: number;
  json?: boolean;
}

export interface PredictSummary {
  results: PredictResult[];
  failures: { image: string; error: string }[];
  /** predictions.csv in the batch form. */
  csv?: string;
}

export function parseWindow(value: string | undefined): WindowChoice {
  if (value === undefined || value === 'ct') return 'ct';
  if (value === 'percentile') return 'percentile';
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[1] > parts[0])) {
    throw new Error(`--window ${value}: expected ct, percentile, or two numbers lo,hi with hi > lo (e.g. -160,240)`);
  }
  return [parts[0], parts[1]];
}

/** Runs a prediction (single or batch) and returns what happened; throws only on bad usage. */
export async function predict(opts: PredictOptions, log: (line: string) => void = () => {}): Promise<PredictSummary> {
  if ((opts.image === undefined) === (opts.manifest === undefined)) throw new Error('pass either --image (a file or a folder) or --manifest');
  const window = parseWindow(opts.window);
  const isFolder = opts.image !== undefined && (statSync(opts.image, { throwIfNoEntry: false })?.isDirectory() ?? false);
  if ((isFolder || opts.manifest) && opts.overlay) throw new Error('--overlay is for a single image; the batch form writes masks only');
  if ((isFolder || opts.manifest) && /\.(png|jpe?g|webp|tiff?|bmp|nii(\.gz)?|dcm)$/i.test(opts.out)) {
    throw new Error(`--out ${basename(opts.out)} names a file, but ${isFolder ? 'a folder of images' : 'a manifest'} gives one mask per case: pass a folder (masks + predictions.csv go into it)`);
  }
  if (opts.overlay) overlayFormat(opts.overlay);
  // An output that is an input (or, for a folder, inside it) destroys the input, or turns masks
  // into inputs of the next run.
  if (opts.image !== undefined) {
    if (!isFolder && realPathOf(opts.out) === realPathOf(opts.image)) {
      throw new Error(`--out ${opts.out} is the input image: the mask would replace it; write the mask elsewhere`);
    }
    if (!isFolder && opts.overlay !== undefined && realPathOf(opts.overlay) === realPathOf(opts.image)) {
      throw new Error(`--overlay ${opts.overlay} is the input image: the overlay would replace it; write it elsewhere`);
    }
    if (isFolder && isWithin(opts.out, opts.image)) {
      throw new Error(`--out ${opts.out} is inside the input folder ${opts.image}: the masks would be read as images next time; write them to another folder`);
    }
  }
  if (opts.overlay !== undefined && realPathOf(opts.overlay) === realPathOf(opts.out)) {
    throw new Error(`--overlay ${opts.overlay} is the mask's own file (--out): the overlay would replace the mask; give them different names`);
  }
  if (!opts.manifest && !opts.text?.trim()) throw new Error('--text is required: the prompt that says what to segment');
  let cases: PredictCase[];
  let problems: { where: string; message: string }[] = [];
  if (opts.manifest) ({ cases, problems } = casesFromManifest(opts.manifest, opts.text, opts.aux));
  else if (isFolder) cases = casesFromFolder(opts.image!, opts.text!, opts.aux ?? null);
  else cases = [{ id: inputStem(opts.image!), image: opts.image!, text: opts.text!, aux: opts.aux ?? null }];

  const clip = opts.clip ? (await resolveClipArg(opts.clip)).path : undefined;
  const run = loadRun(opts.checkpoint, { clip, tokenizer: opts.tokenizer }, resolveExecution(opts));
  try {
    if (opts.auxPrompts !== undefined) useAuxPrompts(run, opts.auxPrompts);
    if (!opts.manifest && !isFolder) {
      const r = await predictCase(run, cases[0], opts.out, { window, overlay: opts.overlay });
      return { results: [r], failures: [] };
    }
    const batch = await predictBatch(run, cases, problems, opts.out, {
      window,
      onResult: (r) => log(describe(r)),
      onError: (f) => log(`tgcnet: skipped ${f.image}: ${f.error}`),
    });
    return batch;
  } finally {
    run.model.dispose();
  }
}

function describe(r: PredictResult): string {
  const size = r.slices > 1 ? `${r.width}x${r.height}x${r.slices}` : `${r.width}x${r.height}`;
  return `${r.image}: ${r.area} ${r.slices > 1 ? 'voxels' : 'px'} foreground (${size}) -> ${r.mask}`;
}

function asJson(r: PredictResult): Record<string, unknown> {
  return { image: r.image, mask: r.mask, width: r.width, height: r.height, slices: r.slices, area: r.area, mean_probability: r.meanProbability };
}

export async function predictCommand(opts: PredictOptions): Promise<void> {
  setVolumeLimits({
    ...(opts.maxVolumeMb !== undefined ? { maxBytes: opts.maxVolumeMb * 1024 * 1024 } : {}),
    ...(opts.maxSlices !== undefined ? { maxSlices: opts.maxSlices } : {}),
  });
  const batch = opts.manifest !== undefined || (opts.image !== undefined && (statSync(opts.image, { throwIfNoEntry: false })?.isDirectory() ?? false));
  // Progress goes to stderr under --json, so stdout stays one JSON document.
  const log = (line: string): void => void (opts.json || line.startsWith('tgcnet:') ? process.stderr : process.stdout).write(`${line}\n`);
  const summary = await predict(opts, log);
  if (opts.json) {
    const doc = batch
      ? { cases: summary.results.map(asJson), failed: summary.failures, predictions: summary.csv }
      : asJson(summary.results[0]);
    process.stdout.write(`${JSON.stringify(doc)}\n`);
  } else if (!batch) log(describe(summary.results[0]));
  else log(`${summary.results.length} mask${summary.results.length === 1 ? '' : 's'} written, ${summary.failures.length} failed; table: ${summary.csv}`);
  if (summary.failures.length > 0) {
    throw new Error(`${summary.failures.length} of ${summary.failures.length + summary.results.length} cases failed (listed above and in ${summary.csv})`);
  }
}
