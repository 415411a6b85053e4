// Medical Segmentation Decathlon layout: <root>/dataset.json, <root>/imagesTr/*.nii.gz,
// <root>/labelsTr/*.nii.gz (imagesTs/ has no labels and is not read). Cases are 2-D axial
// slices (the third voxel axis), one case per (volume, slice, organ label), id
// "<volume>:<slice>:<label>".
//
// Decisions (each can be changed through MsdOptions):
// - Prompt, one per organ label: "<label> in <a|an> <region> <modality> slice.", e.g.
//   "spleen in an abdominal CT slice." The label is dataset.json's name, lower case, "_"
//   made a space. The region comes from keywords in dataset.json's name/description/labels
//   (abdominal, chest, cardiac, brain, pelvic; "axial" when none fits); the modality word is
//   "CT" or "MRI" from dataset.json's modality (left out when it names neither).
// - Window: CT slices map Hounsfield units [-160, 240] (a soft-tissue abdominal window) to
//   0..255. A dataset whose modality is not CT (MRI) gets a per-volume window from the image
//   volume's 0.5th to 99.5th percentile instead, since MR intensities have no fixed scale. A
//   dataset.json without a modality is taken as CT.
// - Slices where the organ is absent: none by default (emptyFraction 0): only slices that
//   hold at least one voxel of the label become cases for that label. With emptyFraction f
//   in (0, 1], each empty (slice, label) is kept when the hash of its id falls below f, so
//   the same fraction of empty slices is kept, the same ones every time.
// - Split by volume, so no patient is in two splits: the volume names are sorted by a
//   32-bit hash (FNV-1a with a final mix), the first round(0.7 n) are train, the next
//   round(0.1 n) val, the rest test. Deterministic, and independent of the listing order.
// - A 4-D image (several modalities or time points) gives its first 3-D volume.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { type Volume, decodeNifti, isNiftiPath, readNiftiHeader } from '../images.js';
import type { Split } from '../types.js';
import { Collector, DEFAULT_RATIOS, type FormatReader, type ReadOptions, findChild, hashUnit, isFile, notThisFormat, splitByCount, stemOf, wantedSplits } from './common.js';

export const MSD_CT_WINDOW: [number, number] = [-160, 240];

export interface MsdOptions extends ReadOptions {
  /** Intensity window for every volume; default [-160, 240] HU for CT, per-volume percentiles otherwise. */
  window?: [number, number];
  /** Fraction of organ-absent slices to keep as cases with an empty mask (default 0). */
  emptyFraction?: number;
  /** The prompt for an organ label; default msdPrompt(label, region, modality). */
  prompt?: (label: string) => string;
  /** Proportions of the volume split; default 0.7 / 0.1 / 0.2. */
  ratios?: Record<Split, number>;
}

const EXPECTS = 'dataset.json (with "labels": {"0": "background", "1": "<organ>", ...}), imagesTr/ and labelsTr/ holding .nii/.nii.gz volumes';

const REGIONS: [RegExp, string][] = [
  [/brain|hippocamp|glioma|brats|cerebr/i, 'brain'],
  [/heart|cardiac|atrium|atrial|ventric|myocard/i, 'cardiac'],
  [/lung|chest|thora|pulmon/i, 'chest'],
  [/prostate|bladder|pelvi|rectum/i, 'pelvic'],
  [/liver|hepatic|spleen|pancrea|colon|kidney|renal|stomach|abdom|gallbladder|duoden|adrenal|aorta|vena cava/i, 'abdominal'],
];

export function regionOf(text: string): string | null {
  for (const [re, region] of REGIONS) if (re.test(text)) return region;
  return null;
}

export function modalityWord(modality: string | null): 'CT' | 'MRI' | null {
  if (!modality) return null;
  if (/\bct\b|computed tomograph/i.test(modality)) return 'CT';
  if (/\bmri?\b|magnetic|t1|t2|flair|adc|dwi|\bpd\b/i.test(modality)) return 'MRI';
  return null;
}

/** The default wording: "spleen in an abdominal CT slice." */
export function msdPrompt(label: string, region: string | null, modality: string | null): string {
  const scene = [region ?? 'axial', modalityWord(modality)].filter((s) => s).join(' ');
  const article = /^[aeiou]/i.test(scene) ? 'an' : 'a';
  return `${label} in ${article} ${scene} slice.`;
}

function labelText(name: string): string {
  return name.replace(/[_]+/g, ' ').replace(/\s+/g, ' ').trim().toLowerCase();
}

/** Organ labels of dataset.json: MSD's {"1": "spleen"} or nnU-Net v2's {"spleen": 1}; background left out. */
export function organLabels(labels: unknown): Map<number, string> {
  const out = new Map<number, string>();
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return out;
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    let value: number | null = null;
    let name: string | null = null;
    if (/^\s*\d+\s*$/.test(k) && typeof v === 'string') {
      value = Number(k);
      name = v;
    } else if (typeof v === 'number' && Number.isInteger(v)) {
      value = v;
      name = k;
    }
    if (value === null || name === null || value === 0 || name.trim().toLowerCase() === 'background') continue;
    out.set(value, labelText(name));
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

function firstModality(json: Record<string, unknown>): string | null {
  for (const key of ['modality', 'channel_names']) {
    const m = json[key];
    if (typeof m === 'string') return m;
    if (m && typeof m === 'object') {
      const first = Object.values(m as Record<string, unknown>)[0];
      if (typeof first === 'string') return first;
    }
  }
  return null;
}

interface VolumeEntry {
  name: string;
  image: string;
  label: string;
}

function volumeList(root: string, json: Record<string, unknown>, out: Collector): VolumeEntry[] {
  const rel = (p: string): string => (isAbsolute(p) ? p : join(root, p));
  const list: VolumeEntry[] = [];
  if (Array.isArray(json.training)) {
    json.training.forEach((item: unknown, i: number) => {
      const e = item as Record<string, unknown> | null;
      if (!e || typeof e.image !== 'string' || typeof e.label !== 'string') {
        out.problem(`${join(root, 'dataset.json')} training[${i}]`, 'not an object with "image" and "label" paths');
        return;
      }
      list.push({ name: stemOf(e.label), image: rel(e.image), label: rel(e.label) });
    });
    return list;
  }
  // No training list: pair imagesTr/<x> with labelsTr/<x> (or nnU-Net's <x>_0000 with <x>).
  const imagesDir = findChild(root, ['imagesTr'])!;
  const labelsDir = findChild(root, ['labelsTr']) ?? join(root, 'labelsTr');
  const names = readdirSync(imagesDir).filter((n) => !n.startsWith('.') && isNiftiPath(n)).sort();
  for (const n of names) {
    const stem = stemOf(n);
    const ext = n.slice(stem.length);
    const direct = join(labelsDir, n);
    if (!isFile(direct) && /_\d{4}$/.test(stem)) {
      if (!stem.endsWith('_0000')) continue; // another channel of an nnU-Net case
      const label = join(labelsDir, `${stem.slice(0, -5)}${ext}`);
      list.push({ name: stemOf(label), image: join(imagesDir, n), label });
    } else list.push({ name: stem, image: join(imagesDir, n), label: direct });
  }
  return list;
}

/**
 * Which labels each slice holds: present[z * labels.length + i] = 1 when slice z holds
 * labels[i]; `unknown` lists the non-zero values that are not among the labels.
 */
function presence(vol: Volume, labels: number[]): { present: Uint8Array; unknown: number[] } {
  const L = labels.length;
  const out = new Uint8Array(vol.nz * L);
  const index = new Map(labels.map((v, i) => [v, i]));
  const plane = vol.nx * vol.ny;
  const { data, slope, inter } = vol;
  const identity = slope === 1 && inter === 0;
  const maxLabel = Math.max(...labels);
  const lookup = new Int32Array(maxLabel + 1).fill(-1);
  for (const [v, i] of index) lookup[v] = i;
  const unknown = new Set<number>();
  for (let z = 0; z < vol.nz; z++) {
    const base = z * plane;
    const row = z * L;
    for (let i = 0; i < plane; i++) {
      const raw = data[base + i];
      const v = identity && Number.isInteger(raw) ? raw : Math.round(raw * slope + inter);
      if (v === 0) continue;
      const li = v > 0 && v <= maxLabel ? lookup[v] : -1;
      if (li >= 0) out[row + li] = 1;
      else unknown.add(v);
    }
  }
  return { present: out, unknown: [...unknown].sort((a, b) => a - b) };
}

/** [0.5th, 99.5th] percentile of a volume's real values (sampled), for modalities without a fixed scale. */
export function percentileWindow(vol: Volume): [number, number] {
  const n = vol.data.length;
  const step = Math.max(1, Math.floor(n / 1_000_000));
  const sample = new Float64Array(Math.ceil(n / step));
  let k = 0;
  for (let i = 0; i < n; i += step) sample[k++] = vol.data[i] * vol.slope + vol.inter;
  const values = sample.subarray(0, k).sort();
  const lo = values[Math.floor(0.005 * (k - 1))];
  let hi = values[Math.ceil(0.995 * (k - 1))];
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

/** How a volume's values become 0..255: MSD's CT window, the volume's own percentiles, or a given [lo, hi]. */
export type WindowChoice = 'ct' | 'percentile' | [number, number];

/**
 * The window of one volume under a choice: the one policy for training slices (above) and
 * for `tgcnet predict` on a NIfTI volume. The volume is decoded only for 'percentile'.
 */
export async function volumeWindow(choice: WindowChoice, volume: () => Promise<Volume>): Promise<[number, number]> {
  if (choice === 'ct') return [MSD_CT_WINDOW[0], MSD_CT_WINDOW[1]];
  if (choice === 'percentile') return percentileWindow(await volume());
  return [choice[0], choice[1]];
}

export const msd: FormatReader<MsdOptions> = {
  name: 'msd',
  expects: EXPECTS,

  detect(root: string): boolean {
    return isFile(join(root, 'dataset.json')) && findChild(root, ['imagesTr']) !== null;
  },

  async read(root: string, options: MsdOptions = {}) {
    if (!msd.detect(root)) throw notThisFormat('msd', root, EXPECTS);
    const { splits } = wantedSplits(options);
    const emptyFraction = options.emptyFraction ?? 0;
    if (!(emptyFraction >= 0 && emptyFraction <= 1)) throw new RangeError(`emptyFraction must be in [0, 1], got ${emptyFraction}`);
    if (options.window && !(options.window[1] > options.window[0])) throw new RangeError(`bad window [${options.window}]: the upper bound must exceed the lower`);
    const out = new Collector();
    const jsonPath = join(root, 'dataset.json');
    let json: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(readFileSync(jsonPath, 'utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      json = parsed as Record<string, unknown>;
    } catch (err) {
      out.problem(jsonPath, `cannot read dataset.json: ${(err as Error).message}`);
      return out.dataset('msd', root);
    }
    const labels = organLabels(json.labels);
    if (labels.size === 0) {
      out.problem(jsonPath, 'no organ labels: "labels" should map "1", "2", ... to organ names ({"0": "background", "1": "spleen"})');
      return out.dataset('msd', root);
    }
    const modality = firstModality(json);
    const isCT = modalityWord(modality) !== 'MRI';
    const about = [json.name, json.description, basename(root)].filter((s) => typeof s === 'string').join(' ');
    const region = regionOf(about) ?? regionOf([...labels.values()].join(' '));
    const prompt = options.prompt ?? ((label: string) => msdPrompt(label, region, modality));
    const labelValues = [...labels.keys()];
    const texts = new Map(labelValues.map((v) => [v, prompt(labels.get(v)!)]));

    const volumes = volumeList(root, json, out);
    const splitOf = splitByCount(
      volumes.map((v) => v.name),
      options.ratios ?? DEFAULT_RATIOS,
    );
    const seen = new Set<string>();
    for (const v of [...volumes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (seen.has(v.name)) {
        out.problem(v.name, `volume listed twice (${v.label})`);
        continue;
      }
      seen.add(v.name);
      const split = splitOf.get(v.name)!;
      if (!splits.includes(split)) continue;
      let bad = false;
      if (!isFile(v.image)) {
        out.problem(v.name, `image volume missing: ${v.image}`);
        bad = true;
      }
      if (!isFile(v.label)) {
        out.problem(v.name, `label volume missing: ${v.label}`);
        bad = true;
      }
      if (bad) continue;
      let dims: { nx: number; ny: number; nz: number };
      try {
        dims = await readNiftiHeader(v.image);
      } catch (err) {
        out.problem(v.name, `cannot read image volume ${v.image}: ${(err as Error).message}`);
        continue;
      }
      let label: Volume;
      try {
        label = await decodeNifti(v.label);
      } catch (err) {
        out.problem(v.name, `cannot read label volume ${v.label}: ${(err as Error).message}`);
        continue;
      }
      if (label.nx !== dims.nx || label.ny !== dims.ny || label.nz !== dims.nz) {
        out.problem(v.name, `size mismatch: image ${v.image} is ${dims.nx}x${dims.ny}x${dims.nz}, label ${v.label} is ${label.nx}x${label.ny}x${label.nz}`);
        continue;
      }
      let window: [number, number];
      try {
        window = await volumeWindow(options.window ?? (isCT ? 'ct' : 'percentile'), () => decodeNifti(v.image));
      } catch (err) {
        out.problem(v.name, `cannot read image volume ${v.image}: ${(err as Error).message}`);
        continue;
      }
      const { present, unknown } = presence(label, labelValues);
      if (unknown.length > 0) {
        const shown = unknown.slice(0, 10).join(', ') + (unknown.length > 10 ? ', ...' : '');
        out.problem(v.name, `no text for label value${unknown.length > 1 ? 's' : ''} ${shown} in ${v.label}: dataset.json "labels" does not name ${unknown.length > 1 ? 'them' : 'it'} (those voxels are left out)`);
      }
      const L = labelValues.length;
      for (let z = 0; z < label.nz; z++) {
        labelValues.forEach((value, li) => {
          const id = `${v.name}:${z}:${value}`;
          if (!present[z * L + li] && !(emptyFraction > 0 && hashUnit(id) < emptyFraction)) return;
          out.add(
            {
              id,
              split,
              image: { kind: 'nifti-slice', path: v.image, slice: z, window: [window[0], window[1]] },
              mask: { kind: 'nifti-slice', path: v.label, slice: z, label: value },
              text: texts.get(value)!,
              aux: null,
            },
            `${v.label} slice ${z}`,
          );
        });
      }
    }
    return out.dataset('msd', root);
  },
};
