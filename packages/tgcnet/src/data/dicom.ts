// Single-frame greyscale DICOM files as 8-bit greyscale, through the `dicom-parser` package
// (we parse no DICOM ourselves; this file only turns its data set into pixels).
//
// Pixel values go the way a viewer shows them (DICOM PS3.3 C.11):
//   stored bits (Bits Stored / High Bit, two's complement when Pixel Representation = 1)
//   -> Modality LUT as Rescale Slope / Intercept (HU for CT)
//   -> the file's first Window Center / Width (the linear VOI function of C.11.2.1.2.1),
//      or the image's own min..max when the file has no window
//   -> 0..255, inverted for MONOCHROME1 (where low values are white).
// Not supported, each refused with what to do: compressed transfer syntaxes (JPEG,
// JPEG 2000, RLE, deflate: the pixel data is encapsulated or the data set is zipped),
// multi-frame files, colour (RGB, YBR, palette), Bits Allocated other than 8 or 16, and
// files without the Part 10 "DICM" header. Modality and VOI LUT sequences and the
// SIGMOID VOI function are not applied (the linear window is used): rare in the images this
// tool segments, and a viewer's exact rendering is not what the model needs.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import dicomParser, { type DataSet } from 'dicom-parser';
import type { GreyImage } from './types.js';

export const DICOM_EXTENSIONS = ['.dcm', '.dicom'];

export function isDicomPath(path: string): boolean {
  return DICOM_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** Uncompressed transfer syntaxes: implicit VR LE, explicit VR LE, explicit VR BE (retired, still met). */
const UNCOMPRESSED = new Map([
  ['1.2.840.10008.1.2', 'implicit VR little endian'],
  ['1.2.840.10008.1.2.1', 'explicit VR little endian'],
  ['1.2.840.10008.1.2.2', 'explicit VR big endian'],
]);
const BIG_ENDIAN = '1.2.840.10008.1.2.2';
const CONVERT = 'convert it to uncompressed little endian first, e.g. `dcmdjpeg in.dcm out.dcm` (JPEG), `dcmdrle` (RLE), `dcmconv +te` (deflate) from DCMTK, or `gdcmconv --raw`';

/** The pixel grid and stored values of a data set, before any value mapping. */
interface StoredPixels {
  rows: number;
  columns: number;
  /** Stored values after bit masking and sign extension. */
  values: Int32Array;
}

/** dicom-parser throws strings or { exception } objects, not Errors: make a readable message. */
function parserMessage(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return String((err as { exception: unknown }).exception);
  return err instanceof Error ? err.message : String(err);
}

function parse(bytes: Uint8Array): DataSet {
  if (bytes.length < 132 || String.fromCharCode(bytes[128], bytes[129], bytes[130], bytes[131]) !== 'DICM') {
    throw new Error('not a DICOM Part 10 file (no "DICM" marker at byte 128): export the image as a standard .dcm file');
  }
  let meta: DataSet;
  try {
    meta = dicomParser.readPart10Header(bytes);
  } catch (err) {
    throw new Error(`corrupt DICOM file meta header: ${parserMessage(err)}`);
  }
  const syntax = meta.string('x00020010')?.replace(/\0/g, '').trim() ?? '';
  if (!UNCOMPRESSED.has(syntax)) {
    throw new Error(`transfer syntax ${syntax || '(missing)'} is compressed or unsupported (supported: ${[...UNCOMPRESSED.values()].join(', ')}): ${CONVERT}`);
  }
  try {
    return dicomParser.parseDicom(bytes);
  } catch (err) {
    throw new Error(`corrupt DICOM data set: ${parserMessage(err)}`);
  }
}

function requireUint16(ds: DataSet, tag: string, name: string): number {
  const v = ds.uint16(tag);
  if (v === undefined) throw new Error(`no ${name} (${tag.slice(1, 5)},${tag.slice(5)}) in the data set`);
  return v;
}

function storedPixels(ds: DataSet, bigEndian: boolean): StoredPixels {
  const frames = ds.intString('x00280008') ?? 1;
  if (frames > 1) throw new Error(`multi-frame DICOM (${frames} frames) is not supported: split it into single-frame files (e.g. \`gdcmtar --split\`) or convert the series to NIfTI (\`dcm2niix\`) and pass the .nii.gz`);
  const samples = ds.uint16('x00280002') ?? 1;
  const photometric = (ds.string('x00280004') ?? '').trim().toUpperCase();
  if (samples !== 1 || !(photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2')) {
    throw new Error(`colour DICOM (${photometric || 'no photometric interpretation'}, ${samples} samples per pixel) is not supported: only MONOCHROME1/2 greyscale; convert it to PNG first`);
  }
  const rows = requireUint16(ds, 'x00280010', 'Rows');
  const columns = requireUint16(ds, 'x00280011', 'Columns');
  if (rows === 0 || columns === 0) throw new Error(`empty image (${columns}x${rows})`);
  const allocated = requireUint16(ds, 'x00280100', 'Bits Allocated');
  if (allocated !== 8 && allocated !== 16) throw new Error(`Bits Allocated ${allocated} is not supported (8 or 16 only)`);
  const stored = ds.uint16('x00280101') ?? allocated;
  const highBit = ds.uint16('x00280102') ?? stored - 1;
  if (stored < 1 || stored > allocated || highBit < stored - 1 || highBit >= allocated) throw new Error(`inconsistent Bits Stored ${stored} / High Bit ${highBit} for Bits Allocated ${allocated}`);
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const element = ds.elements.x7fe00010;
  if (!element) throw new Error('no Pixel Data (7FE0,0010) in the data set');
  if (element.encapsulatedPixelData) throw new Error(`the pixel data is encapsulated (compressed): ${CONVERT}`);
  const count = rows * columns;
  const bytesPer = allocated / 8;
  if (element.length < count * bytesPer || element.dataOffset + count * bytesPer > ds.byteArray.length) {
    throw new Error(`Pixel Data is truncated: ${columns}x${rows} at ${allocated} bits needs ${count * bytesPer} bytes, the element holds ${Math.min(element.length, ds.byteArray.length - element.dataOffset)}`);
  }
  const bytes = ds.byteArray;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + element.dataOffset, count * bytesPer);
  const shift = highBit + 1 - stored;
  const mask = stored === 32 ? 0xffffffff : (1 << stored) - 1;
  const signBit = 1 << (stored - 1);
  const values = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const raw = bytesPer === 1 ? dv.getUint8(i) : dv.getUint16(i * 2, !bigEndian);
    let v = (raw >>> shift) & mask;
    if (signed && v & signBit) v -= 1 << stored;
    values[i] = v;
  }
  return { rows, columns, values };
}

/** The first value of a multi-valued decimal string (Window Center "40\\400" lists several windows). */
function firstFloat(ds: DataSet, tag: string): number | undefined {
  const v = ds.floatString(tag, 0);
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** A decoded DICOM data set as 8-bit greyscale (see the file comment for the value mapping). */
export function decodeDicom(bytes: Uint8Array): GreyImage {
  const ds = parse(bytes);
  const syntax = ds.string('x00020010')?.replace(/\0/g, '').trim();
  const { rows, columns, values } = storedPixels(ds, syntax === BIG_ENDIAN);
  const slope = firstFloat(ds, 'x00281053') ?? 1;
  const intercept = firstFloat(ds, 'x00281052') ?? 0;
  const real = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) real[i] = values[i] * slope + intercept;
  const out = new Uint8Array(values.length);
  const center = firstFloat(ds, 'x00281050');
  const width = firstFloat(ds, 'x00281051');
  if (center !== undefined && width !== undefined && width >= 1) {
    // PS3.3 C.11.2.1.2.1, linear: below c - 0.5 - (w-1)/2 -> 0, above c - 0.5 + (w-1)/2 -> max.
    const lo = center - 0.5 - (width - 1) / 2;
    const hi = center - 0.5 + (width - 1) / 2;
    for (let i = 0; i < real.length; i++) {
      const x = real[i];
      out[i] = x <= lo ? 0 : x > hi ? 255 : Math.round(((x - (center - 0.5)) / (width - 1) + 0.5) * 255);
    }
  } else {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const x of real) {
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const span = max - min;
    for (let i = 0; i < real.length; i++) out[i] = span > 0 ? Math.round(((real[i] - min) * 255) / span) : 0;
  }
  if ((ds.string('x00280004') ?? '').trim().toUpperCase() === 'MONOCHROME1') for (let i = 0; i < out.length; i++) out[i] = 255 - out[i];
  // Pixel Spacing (0028,0030) is "row spacing \\ column spacing": y first, then x.
  const rowSpacing = ds.floatString('x00280030', 0);
  const colSpacing = ds.floatString('x00280030', 1);
  const spacing: [number, number] | undefined =
    rowSpacing !== undefined && colSpacing !== undefined && rowSpacing > 0 && colSpacing > 0 ? [colSpacing, rowSpacing] : undefined;
  return { width: columns, height: rows, data: out, ...(spacing ? { spacing } : {}) };
}

/** Reads and decodes a DICOM file. */
export async function loadDicom(path: string): Promise<GreyImage> {
  return decodeDicom(await readFile(path));
}

/** Columns and rows from the data set, without decoding the pixels. */
export async function dicomSize(path: string): Promise<{ width: number; height: number }> {
  return dicomSizeOf(await readFile(path));
}

/** Columns and rows of DICOM bytes (an upload), without decoding the pixels. */
export function dicomSizeOf(bytes: Uint8Array): { width: number; height: number } {
  const ds = parse(bytes);
  return { width: requireUint16(ds, 'x00280011', 'Columns'), height: requireUint16(ds, 'x00280010', 'Rows') };
}

/** Whether bytes are a DICOM Part 10 file (the "DICM" marker at byte 128). */
export function isDicomBytes(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}
