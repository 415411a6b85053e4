// Which format a dataset folder is in, and reading it. Detection looks at names only, in
// this order: a manifest (the most explicit), MSD, SGSeg, LanGuideMedSeg, LViT; the first
// that matches is used. --format skips detection.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FormatReader } from './formats/common.js';
import { languidemedseg } from './formats/languidemedseg.js';
import { lvit } from './formats/lvit.js';
import { manifest } from './formats/manifest.js';
import { type MsdOptions, msd } from './formats/msd.js';
import { sgseg } from './formats/sgseg.js';
import type { Dataset, FormatName, Split } from './types.js';

export const READERS: readonly FormatReader[] = [manifest, msd as FormatReader, sgseg, languidemedseg, lvit];

export const FORMAT_NAMES: readonly FormatName[] = READERS.map((r) => r.name);

export function readerFor(format: FormatName): FormatReader {
  const reader = READERS.find((r) => r.name === format);
  if (!reader) throw new Error(`unknown dataset format "${format}" (known: ${FORMAT_NAMES.join(', ')})`);
  return reader;
}

/** What each format expects, one per line, for error messages and --help. */
export function describeFormats(): string {
  return READERS.map((r) => `  ${r.name}: ${r.expects}`).join('\n');
}

/** The format of a folder (or manifest file), or null when none matches. */
export function detectFormat(root: string): FormatName | null {
  for (const r of READERS) if (r.detect(root)) return r.name;
  return null;
}

export interface OpenOptions {
  /** Skip detection and read as this format. */
  format?: FormatName;
  /** The splits to read (default: all the dataset has). A named split that is absent is a problem. */
  splits?: Split[];
  /** Options for MSD volumes (window, empty slices, prompt wording, split ratios). */
  msd?: Omit<MsdOptions, 'splits'>;
}

/**
 * Reads a dataset's index. Bad rows are in dataset.problems (see validateDataset for the
 * pixel-level checks); throws when the folder is missing or matches no format.
 */
export async function openDataset(rootArg: string, options: OpenOptions = {}): Promise<Dataset> {
  const root = resolve(rootArg);
  if (!existsSync(root)) throw new Error(`dataset folder ${root} does not exist`);
  const format = options.format ?? detectFormat(root);
  if (format === null) {
    throw new Error(`cannot tell the format of the dataset at ${root}; none of these matched (name one with --format):\n${describeFormats()}`);
  }
  const reader = readerFor(format);
  const readOptions = format === 'msd' ? { ...options.msd, splits: options.splits } : { splits: options.splits };
  return reader.read(root, readOptions);
}
