// What `tgcnet predict` segments: one image, every supported image in a folder, or the
// rows of a manifest (image, text, optional aux and id; paths relative to the manifest).
// A manifest row that cannot become a case is a problem, listed with its line, never a
// reason to drop the other rows.
import { readdirSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { DICOM_EXTENSIONS } from '../data/dicom.js';
import { Collector, IMAGE_EXTENSIONS, cleanText, stemOf } from '../data/formats/common.js';
import { manifestFile, manifestRows, pick } from '../data/formats/manifest.js';
import { isNiftiPath } from '../data/images.js';
import type { Problem } from '../data/types.js';

export interface PredictCase {
  /** Names the output files: the manifest's id, else the image's file stem. */
  id: string;
  image: string;
  text: string;
  aux: string | null;
}

export function isSupportedInput(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return IMAGE_EXTENSIONS.includes(ext) || DICOM_EXTENSIONS.includes(ext) || isNiftiPath(path);
}

export const SUPPORTED_INPUTS = [...IMAGE_EXTENSIONS, ...DICOM_EXTENSIONS, '.nii', '.nii.gz'].join(' ');

/** A volume's stem without .nii.gz, an image's without its extension. */
export function inputStem(path: string): string {
  const name = basename(path);
  return isNiftiPath(name) ? name.replace(/\.nii(\.gz)?$/i, '') : stemOf(name);
}

export function casesFromFolder(dir: string, text: string, aux: string | null): PredictCase[] {
  const files = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && isSupportedInput(f))
    .sort();
  if (files.length === 0) throw new Error(`${dir}: no images to segment (supported: ${SUPPORTED_INPUTS})`);
  return files.map((f) => ({ id: inputStem(f), image: join(dir, f), text, aux }));
}

/** The manifest's cases and its bad rows; `text` / `aux` fill rows that leave theirs empty. */
export function casesFromManifest(path: string, text?: string, aux?: string): { cases: PredictCase[]; problems: Problem[] } {
  const file = manifestFile(path);
  if (!file) throw new Error(`${path}: not a manifest (a .csv with a header row, or a .jsonl; columns image, text, optional aux and id)`);
  const out = new Collector();
  const rows = manifestRows(file, text ? ['image'] : ['image', 'text'], out);
  const base = dirname(resolve(file));
  const cases: PredictCase[] = [];
  for (const row of rows ?? []) {
    const where = `${file} line ${row.line}`;
    const image = (pick(row.cells, 'image') ?? '').trim();
    const rowText = cleanText(pick(row.cells, 'text')) || (text ?? '');
    const rowAux = cleanText(pick(row.cells, 'aux')) || (aux ?? '');
    const id = (pick(row.cells, 'id') ?? '').trim() || (image === '' ? `line-${row.line}` : inputStem(image));
    if (image === '') out.problem(where, 'no image path');
    else if (rowText === '') out.problem(where, `no text for ${image}: fill the text column (or pass --text for rows without one)`);
    else cases.push({ id, image: isAbsolute(image) ? image : join(base, image), text: rowText, aux: rowAux === '' ? null : rowAux });
  }
  return { cases, problems: out.problems };
}
