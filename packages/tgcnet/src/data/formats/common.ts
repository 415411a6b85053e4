// What the format readers share: the reader interface, folder listing, split names,
// a deterministic hash split, and a collector that records cases and problems.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { basename, join } from 'node:path';
import type { CaseRecord, Dataset, FormatName, Problem, Split } from '../types.js';
import { SPLITS } from '../types.js';
import { hash32, hashUnit } from '../../random.js';

export { hash32, hashUnit };

export interface ReadOptions {
  /** The splits to read; default every split the dataset has. An absent split is not a problem. */
  splits?: Split[];
}

export interface FormatReader<O extends ReadOptions = ReadOptions> {
  name: FormatName;
  /** What a folder of this format holds, for messages. */
  expects: string;
  /** True when the folder (or file) looks like this format. Cheap: looks at names only. */
  detect(root: string): boolean;
  /**
   * Reads the index. Bad rows go into dataset.problems and are left out of dataset.cases;
   * throws only when `root` is not this format at all.
   */
  read(root: string, options?: O): Promise<Dataset>;
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.gif'];

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The entry of `dir` whose name matches one of `names` (first by exact name, then ignoring case), or null. */
export function findChild(dir: string, names: readonly string[], want: 'dir' | 'file' = 'dir'): string | null {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return null;
  }
  const ok = (name: string): boolean => (want === 'dir' ? isDir(join(dir, name)) : isFile(join(dir, name)));
  for (const n of names) if (entries.includes(n) && ok(n)) return join(dir, n);
  for (const n of names) {
    const hit = entries.find((e) => e.toLowerCase() === n.toLowerCase() && ok(e));
    if (hit) return join(dir, hit);
  }
  return null;
}

/** File name without its extension (".nii.gz" counts as one). */
export function stemOf(name: string): string {
  const base = basename(name);
  if (base.toLowerCase().endsWith('.nii.gz')) return base.slice(0, -7);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

export function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** Names of the image files in a folder, sorted; hidden and macOS "._" files skipped. [] when no folder. */
export function listImages(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => !n.startsWith('.') && isImageName(n)).sort();
}

/**
 * Image files of a folder by stem. A stem held by two files (x.png and x.jpg) is kept with
 * the first name in sort order and listed in `clashes`.
 */
export function imagesByStem(dir: string): { byStem: Map<string, string>; clashes: string[][] } {
  const byStem = new Map<string, string>();
  const clash = new Map<string, string[]>();
  for (const name of listImages(dir)) {
    const stem = stemOf(name);
    const first = byStem.get(stem);
    if (first === undefined) byStem.set(stem, name);
    else clash.set(stem, [...(clash.get(stem) ?? [first]), name]);
  }
  return { byStem, clashes: [...clash.values()] };
}

/** QaTa names masks "mask_<image>"; MosMedData+ gives image and mask the same stem. */
export function imageStemForMask(maskName: string): string {
  const stem = stemOf(maskName);
  return stem.startsWith('mask_') ? stem.slice(5) : stem;
}

export function parseSplit(value: string): Split | null {
  const v = value.trim().toLowerCase();
  if (v === 'train' || v === 'training') return 'train';
  if (v === 'val' || v === 'valid' || v === 'validation' || v === 'dev') return 'val';
  if (v === 'test' || v === 'testing') return 'test';
  return null;
}

/**
 * The splits to read. A split the dataset does not have is simply absent (no problem): a
 * folder holding only the split asked for is a valid dataset, and the caller decides what
 * an empty split means (train.ts holds out validation cases itself, for one).
 */
export function wantedSplits(options: ReadOptions | undefined): { splits: Split[] } {
  if (options?.splits && options.splits.length > 0) {
    for (const s of options.splits) if (!SPLITS.includes(s)) throw new Error(`unknown split "${s}" (expected one of ${SPLITS.join(', ')})`);
    return { splits: SPLITS.filter((s) => options.splits!.includes(s)) };
  }
  return { splits: [...SPLITS] };
}

/** The default proportions of a hash split. */
export const DEFAULT_RATIOS: Readonly<Record<Split, number>> = { train: 0.7, val: 0.1, test: 0.2 };

/** Split of one item by its own hash: train below 0.7, val below 0.8, test above (stable as items come and go). */
export function hashSplit(key: string, ratios: Readonly<Record<Split, number>> = DEFAULT_RATIOS): Split {
  const u = hashUnit(key);
  const total = ratios.train + ratios.val + ratios.test;
  if (u < ratios.train / total) return 'train';
  if (u < (ratios.train + ratios.val) / total) return 'val';
  return 'test';
}

/**
 * Splits whole groups (volumes) by exact counts: the names are sorted by hash, the first
 * round(0.7 n) go to train, the next round(0.1 n) to val, the rest to test.
 */
export function splitByCount(names: readonly string[], ratios: Readonly<Record<Split, number>> = DEFAULT_RATIOS): Map<string, Split> {
  const sorted = [...new Set(names)].sort((a, b) => hash32(a) - hash32(b) || (a < b ? -1 : a > b ? 1 : 0));
  const total = ratios.train + ratios.val + ratios.test;
  const n = sorted.length;
  const nTrain = Math.round((n * ratios.train) / total);
  const nVal = Math.min(n - nTrain, Math.round((n * ratios.val) / total));
  const out = new Map<string, Split>();
  sorted.forEach((name, i) => out.set(name, i < nTrain ? 'train' : i < nTrain + nVal ? 'val' : 'test'));
  return out;
}

export function notThisFormat(format: FormatName, root: string, expects: string): Error {
  return new Error(`${root} is not a ${format} dataset: expected ${expects}`);
}

/** Collects cases and problems; the second case with an id already taken is reported, not kept. */
export class Collector {
  readonly cases: CaseRecord[] = [];
  readonly problems: Problem[] = [];
  private readonly where = new Map<string, string>();

  problem(where: string, message: string): void {
    this.problems.push({ where, message });
  }

  /** Adds a case; `origin` says where it came from, for the duplicate message. */
  add(record: CaseRecord, origin: string): void {
    const first = this.where.get(record.id);
    if (first !== undefined) {
      // Named by where the copy is, not by the id: --skip-bad then drops the copy, not both.
      this.problem(origin, `duplicate id ${record.id}: the same id as ${first}; this row is left out`);
      return;
    }
    this.where.set(record.id, origin);
    this.cases.push(record);
  }

  dataset(format: FormatName, root: string): Dataset {
    return { format, root, cases: this.cases, problems: this.problems };
  }
}

/** A prompt cell as text: trimmed, inner runs of white space (line breaks included) made one space. */
export function cleanText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/\s+/g, ' ').trim();
}

export interface TableRow {
  /** 1-based line of the file where the row starts (the header is line 1). */
  line: number;
  /** Cells by lower-cased, trimmed column name. */
  cells: Map<string, string>;
}

/** A CSV file with a header row. Throws (with the reason) when the file cannot be read or parsed. */
export function readCsv(path: string): { columns: string[]; rows: TableRow[] } {
  const bytes = readFileSync(path);
  const records = parseCsv(bytes, { bom: true, info: true, raw: true, skip_empty_lines: true, relax_column_count: true, relax_quotes: true }) as unknown as {
    record: string[];
    raw: string;
    info: { bytes: number };
  }[];
  if (records.length === 0) return { columns: [], rows: [] };
  // csv-parse's own line count is off after a quoted cell holding a line break and with CRLF
  // endings; the line where a row starts is counted here from its byte offset instead.
  let counted = 0;
  let line = 1;
  const startLine = (r: { raw: string; info: { bytes: number } }): number => {
    const start = r.info.bytes - Buffer.byteLength(r.raw);
    for (; counted < start; counted++) if (bytes[counted] === 0x0a) line++;
    const blank = /^[\r\n]*/.exec(r.raw)![0];
    return line + (blank.match(/\r\n|\n|\r/g) ?? []).length;
  };
  startLine(records[0]);
  const columns = records[0].record.map((c) => c.trim().toLowerCase());
  const rows = records.slice(1).map((r) => {
    const cells = new Map<string, string>();
    columns.forEach((c, i) => {
      if (c !== '' && !cells.has(c)) cells.set(c, r.record[i] ?? '');
    });
    return { line: startLine(r), cells };
  });
  return { columns, rows };
}
