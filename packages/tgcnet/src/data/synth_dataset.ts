// `tgcnet data synth`: writes synthetic cases in the LViT layout
// ({Train,Val,Test}_Folder/{img,labelcol} + <Split>_text.xlsx with Image, Description),
// 70/10/20 train/val/test, deterministic for a seed, and negative_prompts.jsonl: for each
// case, prompts naming only zones it has no lesion in (data/negative_prompts.ts).
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import sharp from 'sharp';
import { LEVELS, SIDES, type SynthCase, type Zone, describeZones, synthCase } from './synth.js';
import { describeZonesClinical, synthCaseClinical } from './synth_clinical.js';
import { makeDir } from '../fs/make_dir.js';
import { mulberry32 } from '../random.js';
import { NEGATIVE_PROMPTS_FILE, type NegativePromptsEntry, writeNegativePrompts } from './negative_prompts.js';

interface SynthStyleSpec {
  draw: (seed: number, size?: number) => SynthCase;
  /** A prompt naming the zones in the style's own wording (its choices drawn from rand). */
  describe: (zones: readonly Zone[], rand: () => number) => string;
  size: number;
}

/** 'lvit': LViT's wording, smooth blobs, 224 px; 'clinical': zone wording, irregular lesions, 256 px. */
export const SYNTH_STYLES = {
  lvit: { draw: synthCase, describe: (zones) => describeZones(zones), size: 224 },
  clinical: { draw: synthCaseClinical, describe: describeZonesClinical, size: 256 },
} satisfies Record<string, SynthStyleSpec>;

/** The seed of case `index` of a dataset written with `seed`. */
export function synthCaseSeed(seed: number, index: number): number {
  return seed * 100_003 + index;
}

/** The index of a case from its file stem (synth_00042 -> 42), or null. */
export function synthCaseIndex(id: string): number | null {
  const m = /synth_(\d+)/.exec(id);
  return m ? Number(m[1]) : null;
}
export type SynthStyle = keyof typeof SYNTH_STYLES;

/** Negative prompts per case: each names one to three of the zones without a lesion. */
const NEGATIVE_PROMPTS_PER_CASE = 2;

/**
 * Prompts naming only zones where case `c` has no lesion, in the style's wording. Drawn from
 * their own stream: the images, masks and prompts are those the seed always gave.
 */
export function negativePromptsOf(style: SynthStyle, c: SynthCase, caseSeed: number): string[] {
  const rand = mulberry32((caseSeed ^ 0x5bd1e995) >>> 0);
  const has = new Set(c.opacityZones.map((z) => `${z.side} ${z.level}`));
  const clear: Zone[] = SIDES.flatMap((side) => LEVELS.map((level) => ({ level, side }))).filter((z) => !has.has(`${z.side} ${z.level}`));
  const prompts = new Set<string>();
  // A few more draws than prompts: two draws may name the same zones.
  for (let k = 0; k < 3 * NEGATIVE_PROMPTS_PER_CASE && prompts.size < NEGATIVE_PROMPTS_PER_CASE && clear.length > 0; k++) {
    for (let i = clear.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [clear[i], clear[j]] = [clear[j], clear[i]];
    }
    const count = Math.min(clear.length, 1 + Math.floor(rand() * 3));
    prompts.add(SYNTH_STYLES[style].describe(clear.slice(0, count), rand));
  }
  return [...prompts];
}
export const SYNTH_STYLE_NAMES = Object.keys(SYNTH_STYLES) as SynthStyle[];

export interface SynthOptions {
  out: string;
  n: number;
  seed: number;
  /** Default 'lvit'. */
  style?: SynthStyle;
  /** Image side (default: the style's). */
  size?: number;
  onProgress?: (done: number, total: number) => void;
}

const FOLDERS = [
  ['Train', 0.7],
  ['Val', 0.1],
  ['Test', 0.2],
] as const;

export async function writeSynthDataset(options: SynthOptions): Promise<{ counts: Record<string, number> }> {
  const styleName = options.style ?? 'lvit';
  const style = SYNTH_STYLES[styleName];
  if (style === undefined) throw new RangeError(`data synth: unknown style '${options.style}': use ${SYNTH_STYLE_NAMES.join(' or ')}`);
  const size = options.size ?? style.size;
  if (options.n < 3) throw new RangeError(`data synth: --n must be at least 3 (one case per split), got ${options.n}`);
  // Written into a temporary folder and renamed: an interrupted run leaves no half dataset.
  const tmp = `${options.out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const counts: Record<string, number> = {};
  const negatives: NegativePromptsEntry[] = [];
  let start = 0;
  let done = 0;
  for (const [i, [name, fraction]] of FOLDERS.entries()) {
    const count = i === FOLDERS.length - 1 ? options.n - start : Math.max(1, Math.round(options.n * fraction));
    const folder = join(tmp, `${name}_Folder`);
    makeDir(join(folder, 'img'));
    makeDir(join(folder, 'labelcol'));
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Sheet1');
    sheet.addRow(['Image', 'Description']);
    const writes: Promise<unknown>[] = [];
    for (let k = 0; k < count; k++) {
      const index = start + k;
      const caseSeed = synthCaseSeed(options.seed, index);
      const c = style.draw(caseSeed, size);
      const stem = `synth_${String(index).padStart(5, '0')}`;
      negatives.push({ id: stem, prompts: negativePromptsOf(styleName, c, caseSeed) });
      const raw = { raw: { width: size, height: size, channels: 1 as const } };
      // One channel, as radiographs and masks are (sharp would widen them to sRGB).
      writes.push(sharp(Buffer.from(c.image), raw).toColourspace('b-w').png().toFile(join(folder, 'img', `${stem}.png`)));
      writes.push(sharp(Buffer.from(c.mask), raw).toColourspace('b-w').png().toFile(join(folder, 'labelcol', `mask_${stem}.png`)));
      sheet.addRow([`mask_${stem}.png`, c.text]);
      if (writes.length >= 64) await Promise.all(writes.splice(0));
      done += 1;
      options.onProgress?.(done, options.n);
    }
    await Promise.all(writes);
    await workbook.xlsx.writeFile(join(folder, `${name}_text.xlsx`));
    counts[name.toLowerCase()] = count;
    start += count;
  }
  writeNegativePrompts(join(tmp, NEGATIVE_PROMPTS_FILE), negatives);
  rmSync(options.out, { recursive: true, force: true });
  renameSync(tmp, options.out);
  return { counts };
}
