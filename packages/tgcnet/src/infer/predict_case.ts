// One prediction: an input file (2-D image, DICOM or NIfTI volume) and its prompt in, a mask
// file at the input's own size out (PNG for images, NIfTI with the input's geometry for
// volumes), optionally an overlay PNG. Every file is written atomically.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type WindowChoice, volumeWindow } from '../data/formats/msd.js';
import { decodeNifti, describeError, isNiftiPath, loadImage, readNiftiHeaderBlock, requireThreeD, windowSlice } from '../data/images.js';
import { niftiMaskBytes } from '../data/nifti_mask.js';
import { AuxPrompts } from '../prompts/aux_prompts.js';
import { usesAux } from '../model/tgcnet.js';
import { type LoadedRun, openRunAux } from '../run/checkpoint.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { maskPng, overlayImage } from './images_io.js';
import type { PredictCase } from './predict_inputs.js';
import { segment } from './segment.js';
import { segmentVolume } from './volume.js';

const gzipAsync = promisify(gzip);

export interface PredictResult {
  image: string;
  mask: string;
  width: number;
  height: number;
  /** 1 for a 2-D image, the axial slice count for a volume. */
  slices: number;
  area: number;
  meanProbability: number;
}

export interface PredictCaseOptions {
  /** The intensity window of NIfTI volumes (MSD's policy; default 'ct'). */
  window?: WindowChoice;
  /** Also write the image with the mask overlaid (a volume: its slice with the largest mask). */
  overlay?: string;
  /** Slices per forward pass for volumes (default 8). */
  sliceBatch?: number;
}

// The run's auxiliary prompts, opened once per loaded run: a batch of a thousand cases reads
// the file once and says "no entry" once per prompt, not once per case.
const opened = new WeakMap<LoadedRun, { aux: AuxPrompts; warned: Set<string> }>();

function openAux(run: LoadedRun, explicit: string | undefined): { aux: AuxPrompts; warned: Set<string> } {
  const warned = new Set<string>();
  const warn = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    process.stderr.write(`tgcnet: warning: ${message}\n`);
  };
  let prompts: AuxPrompts;
  try {
    prompts = openRunAux(run, explicit, warn);
  } catch (err) {
    // A file the user named must exist; one the run merely recorded may be gone.
    if (explicit !== undefined) throw err;
    warn(`${(err as Error).message}: predicting without aux`);
    prompts = AuxPrompts.open(undefined, undefined);
  }
  const entry = { aux: prompts, warned };
  opened.set(run, entry);
  return entry;
}

/** Predict's --aux-prompts: this file (or 'offline') instead of the run's own, for every case. */
export function useAuxPrompts(run: LoadedRun, spec: string): void {
  openAux(run, spec);
}

/** The case's auxiliary prompt: its own, else the run's for this prompt when the model reads one. */
export function resolveAux(run: LoadedRun, text: string, aux: string | null): string | null {
  if (aux !== null) return aux;
  if (!usesAux(run.run.model)) return null;
  const entry = opened.get(run) ?? openAux(run, undefined);
  const found = entry.aux.get(text);
  if (found === null) {
    const message =
      entry.aux.origin.kind === 'none'
        ? `${entry.aux.origin.reason}; predicting without aux (or pass --aux or --aux-prompts)`
        : `${entry.aux.file} has no entry for ${JSON.stringify(text)} (rerun \`tgcnet prompts\`, or pass --aux or --aux-prompts): predicting without aux`;
    if (!entry.warned.has(message)) {
      entry.warned.add(message);
      process.stderr.write(`tgcnet: warning: ${message}\n`);
    }
  }
  return found;
}

export function maskKind(input: string): 'nifti' | 'png' {
  return isNiftiPath(input) ? 'nifti' : 'png';
}

function checkOut(input: string, out: string): void {
  const lower = out.toLowerCase();
  if (maskKind(input) === 'nifti' && !isNiftiPath(lower)) throw new Error(`${input} is a NIfTI volume: its mask is a NIfTI volume too; name --out *.nii.gz or *.nii (got ${out})`);
  if (maskKind(input) === 'png' && !lower.endsWith('.png')) throw new Error(`the mask of ${input} is a PNG: name --out *.png (got ${out})`);
}

export async function predictCase(run: LoadedRun, c: PredictCase, out: string, options: PredictCaseOptions = {}): Promise<PredictResult> {
  checkOut(c.image, out);
  const aux = resolveAux(run, c.text, c.aux);
  if (maskKind(c.image) === 'png') {
    const image = await loadImage({ kind: 'file', path: c.image });
    for (const note of image.notes ?? []) process.stderr.write(`tgcnet: note: ${c.image} is ${note}\n`);
    const seg = await segment(run, image, c.text, aux);
    writeFileAtomic(out, await maskPng(seg.mask, seg.width, seg.height));
    if (options.overlay) writeFileAtomic(options.overlay, await overlayImage(options.overlay, image, seg.mask));
    return { image: c.image, mask: out, width: seg.width, height: seg.height, slices: 1, area: seg.area, meanProbability: seg.meanProbability };
  }
  let header: Awaited<ReturnType<typeof readNiftiHeaderBlock>>;
  let vol: Awaited<ReturnType<typeof decodeNifti>>;
  let window: [number, number];
  try {
    header = await readNiftiHeaderBlock(c.image);
    requireThreeD(header.header, c.image);
    vol = await decodeNifti(c.image);
    window = await volumeWindow(options.window ?? 'ct', async () => vol);
  } catch (err) {
    throw new Error(`cannot read volume ${c.image}: ${describeError(err)}`);
  }
  const seg = await segmentVolume(run, vol, window, c.text, aux, options.sliceBatch ?? 8);
  const nii = niftiMaskBytes(header, seg.mask, c.image);
  writeFileAtomic(out, out.toLowerCase().endsWith('.gz') ? await gzipAsync(nii) : nii);
  if (options.overlay) {
    const z = seg.sliceAreas.indexOf(Math.max(...seg.sliceAreas));
    const plane = seg.nx * seg.ny;
    writeFileAtomic(options.overlay, await overlayImage(options.overlay, windowSlice(vol, z, window), seg.mask.subarray(z * plane, (z + 1) * plane)));
  }
  return { image: c.image, mask: out, width: seg.nx, height: seg.ny, slices: seg.nz, area: seg.area, meanProbability: seg.meanProbability };
}
