// Checks a dataset before training or evaluation, so a bad row is reported up front with all
// the others instead of failing halfway through an epoch. Problems about one case have
// `where` = the case id, so dropBadCases can leave those cases out (--skip-bad); problems
// about a file or row that made no case name that file or row.
import { describeError, isNiftiPath, imageFileSize, loadImage, loadMask, loadMaskFileWithValues, readNiftiHeader } from './images.js';
import { maskValueProblem } from './mask_values.js';
import type { CaseRecord, Dataset, ImageSource, MaskSource, Problem } from './types.js';

export interface ValidateOptions {
  /** Decode every image and mask fully (slow; catches truncated files that a header read misses). */
  checkPixels?: boolean;
  /** Cases checked at once (default 16). */
  concurrency?: number;
  /** Called after each case (done, total): progress for long checks. */
  onProgress?: (done: number, total: number) => void;
}

const MASK_RULE_SHORT = 'foreground where the value is > 127, or > 0 in 0/1 masks';

interface Size {
  width: number;
  height: number;
}

/** Runs `work` over `items`, at most `limit` at a time; results in item order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export async function validateDataset(ds: Dataset, options: ValidateOptions = {}): Promise<Problem[]> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 16));
  const headers = new Map<string, Promise<{ nx: number; ny: number; nz: number }>>();
  const niftiHeader = (path: string): Promise<{ nx: number; ny: number; nz: number }> => {
    let h = headers.get(path);
    if (!h) {
      h = readNiftiHeader(path);
      h.catch(() => undefined);
      headers.set(path, h);
    }
    return h;
  };

  /** Size of an image or mask from its header; throws a message that names the file. */
  const sizeOf = async (source: ImageSource | MaskSource, what: 'image' | 'mask'): Promise<Size> => {
    try {
      if (source.kind === 'nifti-slice') {
        const h = await niftiHeader(source.path);
        if (!Number.isInteger(source.slice) || source.slice < 0 || source.slice >= h.nz) {
          throw new Error(`slice ${source.slice} out of range (the volume has ${h.nz} slices)`);
        }
        return { width: h.nx, height: h.ny };
      }
      if (isNiftiPath(source.path)) throw new Error('a NIfTI volume given as a 2-D file (needs a slice)');
      return await imageFileSize(source.path);
    } catch (err) {
      const r = describeError(err);
      if (r === 'file not found') throw new Error(`${what} file missing: ${source.path}`);
      throw new Error(`unreadable ${what} ${source.path}: ${r}`);
    }
  };

  const check = async (c: CaseRecord): Promise<Problem[]> => {
    const found: Problem[] = [];
    const add = (message: string): void => {
      found.push({ where: c.id, message });
    };
    if (typeof c.text !== 'string' || c.text.trim() === '') add('empty text');
    let imageSize: Size | null = null;
    let maskSize: Size | null = null;
    try {
      imageSize = await sizeOf(c.image, 'image');
    } catch (err) {
      add((err as Error).message);
    }
    if (c.mask) {
      try {
        maskSize = await sizeOf(c.mask, 'mask');
      } catch (err) {
        add((err as Error).message);
      }
    }
    if (imageSize && maskSize && (imageSize.width !== maskSize.width || imageSize.height !== maskSize.height)) {
      add(`size mismatch: image ${c.image.path} is ${imageSize.width}x${imageSize.height}, mask ${c.mask!.path} is ${maskSize.width}x${maskSize.height}`);
    }
    if (options.checkPixels) {
      if (imageSize) {
        try {
          await loadImage(c.image);
        } catch (err) {
          add((err as Error).message);
        }
      }
      if (c.mask && maskSize) {
        try {
          if (c.mask.kind === 'nifti-slice') {
            const m = await loadMask(c.mask);
            masksDecoded += 1;
            if (m.data.some((v) => v !== 0)) masksWithForeground += 1;
          } else {
            const { mask, values } = await loadMaskFileWithValues(c.mask.path, c.mask.threshold);
            let foreground = 0;
            for (const v of mask.data) foreground += v;
            masksDecoded += 1;
            if (foreground > 0) masksWithForeground += 1;
            // A stated --mask-threshold says how these values are meant: nothing to report.
            const problem = c.mask.threshold === undefined ? maskValueProblem(c.mask.path, values, foreground, mask.data.length) : null;
            if (problem) add(problem);
          }
        } catch (err) {
          add((err as Error).message);
        }
      }
    }
    return found;
  };

  let masksDecoded = 0;
  let masksWithForeground = 0;
  let done = 0;
  const perCase = await mapLimit(ds.cases, concurrency, async (c) => {
    const found = await check(c);
    done += 1;
    options.onProgress?.(done, ds.cases.length);
    return found;
  });
  const datasetWide: Problem[] = [];
  if (options.checkPixels && masksDecoded > 0 && masksWithForeground === 0) {
    datasetWide.push({
      wholeDataset: true,
      where: ds.root,
      message: `every one of the ${masksDecoded} masks is empty after binarising (${MASK_RULE_SHORT}): wrong mask folder, or masks whose foreground value is below 128`,
    });
  }
  return [...ds.problems, ...perCase.flat(), ...datasetWide];
}

/** The cases that no problem names (what --skip-bad trains on). */
export function dropBadCases(cases: readonly CaseRecord[], problems: readonly Problem[]): CaseRecord[] {
  const bad = new Set(problems.map((p) => p.where));
  return cases.filter((c) => !bad.has(c.id));
}

/**
 * A report for a person: one line per problem, "  <where>: <message>", the first `limit` of
 * them, then "  ... and N more". (Callers print their own count line above it.)
 */
export function formatProblems(problems: readonly Problem[], limit = 50): string {
  if (problems.length === 0) return 'no problems found';
  const n = problems.length;
  const lines: string[] = [];
  for (const p of problems.slice(0, Math.max(0, limit))) lines.push(`  ${p.where}: ${p.message}`);
  if (n > limit) lines.push(`  ... and ${n - limit} more`);
  return lines.join('\n');
}
