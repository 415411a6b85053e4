// A generic manifest: manifest.csv or manifest.jsonl in the folder (the .csv when both are
// there), or the manifest file itself (any *.csv / *.jsonl). One row per case with
//   image  path of the image (relative to the manifest's folder, or absolute)
//   mask   path of the mask
//   text   the prompt
//   aux    optional auxiliary prompt
//   split  optional: train | val (also valid, validation) | test
//   id     optional: the case id (default: the image's file stem)
// CSV needs a header row; JSONL holds one JSON object per line. Column names ignore case.
// A row without a split goes by the hash of its id: train below 0.7, val below 0.8, test
// above (hashSplit), so it stays put when rows are added or removed.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isNiftiPath } from '../images.js';
import { Collector, type FormatReader, type ReadOptions, type TableRow, cleanText, findChild, hashSplit, isDir, isFile, notThisFormat, parseSplit, readCsv, stemOf, wantedSplits } from './common.js';

const EXPECTS = 'manifest.csv or manifest.jsonl (columns image, mask, text, optional aux, split, id; paths relative to the manifest), or such a .csv/.jsonl file itself';

const ALIASES: Record<string, string[]> = {
  image: ['image', 'image_path', 'img'],
  mask: ['mask', 'mask_path', 'label', 'gt'],
  text: ['text', 'prompt', 'caption', 'description'],
  aux: ['aux', 'aux_text', 'auxiliary'],
  split: ['split'],
  id: ['id'],
};

/** A row's cell for a field, under any of its accepted column names. */
export function pick(cells: Map<string, string>, field: keyof typeof ALIASES): string | undefined {
  for (const name of ALIASES[field]) if (cells.has(name)) return cells.get(name);
  return undefined;
}

/** The manifest file for a root (the file itself, or manifest.csv / manifest.jsonl in the folder), or null. */
export function manifestFile(root: string): string | null {
  if (isFile(root)) {
    const lower = root.toLowerCase();
    return lower.endsWith('.csv') || lower.endsWith('.jsonl') ? root : null;
  }
  if (!isDir(root)) return null;
  return findChild(root, ['manifest.csv'], 'file') ?? findChild(root, ['manifest.jsonl'], 'file');
}

function readJsonl(path: string, out: Collector): TableRow[] {
  const rows: TableRow[] = [];
  readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        out.problem(`${path} line ${i + 1}`, `not valid JSON: ${(err as Error).message}`);
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        out.problem(`${path} line ${i + 1}`, 'not a JSON object');
        return;
      }
      const cells = new Map<string, string>();
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const key = k.trim().toLowerCase();
        if (!cells.has(key)) cells.set(key, v === null || v === undefined ? '' : typeof v === 'string' ? v : String(v));
      }
      rows.push({ line: i + 1, cells });
    });
  return rows;
}

/**
 * The rows of a manifest file (CSV with a header, or JSONL), or null when the file cannot be
 * read or a CSV header lacks a `required` column; problems go to `out`. Shared with
 * `tgcnet predict --manifest`, whose rows need no mask.
 */
export function manifestRows(file: string, required: readonly (keyof typeof ALIASES)[], out: Collector): TableRow[] | null {
  try {
    if (file.toLowerCase().endsWith('.jsonl')) return readJsonl(file, out);
    const csv = readCsv(file);
    const missing = required.filter((f) => !ALIASES[f].some((a) => csv.columns.includes(a)));
    if (missing.length > 0) {
      out.problem(file, `no ${missing.join(', ')} column${missing.length > 1 ? 's' : ''} in the header (found: ${csv.columns.join(', ') || 'none'})`);
      return null;
    }
    return csv.rows;
  } catch (err) {
    out.problem(file, `cannot read the manifest: ${(err as Error).message}`);
    return null;
  }
}

export const manifest: FormatReader = {
  name: 'manifest',
  expects: EXPECTS,

  detect(root: string): boolean {
    return manifestFile(root) !== null;
  },

  async read(root: string, options: ReadOptions = {}) {
    const file = manifestFile(root);
    if (!file) throw notThisFormat('manifest', root, EXPECTS);
    const { splits } = wantedSplits(options);
    const out = new Collector();
    const base = dirname(resolve(file));
    const abs = (p: string): string => (isAbsolute(p) ? p : join(base, p));
    const rows = manifestRows(file, ['image', 'mask', 'text'], out);
    if (rows === null) return out.dataset('manifest', root);
    for (const row of rows) {
      const where = `${file} line ${row.line}`;
      const image = (pick(row.cells, 'image') ?? '').trim();
      const mask = (pick(row.cells, 'mask') ?? '').trim();
      const text = cleanText(pick(row.cells, 'text'));
      const auxText = cleanText(pick(row.cells, 'aux'));
      const splitCell = (pick(row.cells, 'split') ?? '').trim();
      const idCell = (pick(row.cells, 'id') ?? '').trim();
      if (image === '') {
        out.problem(where, 'no image path');
        continue;
      }
      const id = idCell !== '' ? idCell : stemOf(image);
      let split = splitCell === '' ? hashSplit(id) : parseSplit(splitCell);
      if (split === null) {
        out.problem(id, `unknown split "${splitCell}" (expected train, val or test) (${where})`);
        continue;
      }
      if (!splits.includes(split)) continue;
      let bad = false;
      const imagePath = abs(image);
      if (isNiftiPath(image)) {
        out.problem(id, `a manifest row holds a 2-D image; ${image} is a NIfTI volume (use the msd format) (${where})`);
        bad = true;
      } else if (!isFile(imagePath)) {
        out.problem(id, `image file missing: ${imagePath} (${where})`);
        bad = true;
      }
      if (mask === '') {
        out.problem(id, `no mask path (${where})`);
        bad = true;
      } else if (!isFile(abs(mask))) {
        out.problem(id, `mask file missing: ${abs(mask)} (${where})`);
        bad = true;
      }
      if (text === '') {
        out.problem(id, `no text (${where})`);
        bad = true;
      }
      if (bad) continue;
      out.add({ id, split, image: { kind: 'file', path: imagePath }, mask: { kind: 'file', path: abs(mask) }, text, aux: auxText === '' ? null : auxText }, where);
    }
    return out.dataset('manifest', root);
  },
};
