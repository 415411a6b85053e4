// Single-frame greyscale DICOM files as 8-bit greyscale, through the `dicom-parser` package
// (we parse no DICOM ourselves; this file only turns its data set into pixels).
//
// Pixel values go the way a viewer shows them (DICOM PS3.3 C.11):
//   stored bits (Bits Stored / High Bit, two's complement when Pixel Representation = 1)
//   -> Modality LUT as Rescale Slope / Intercept (HU for CT)
//   -> the file's first Window Center / Width (the linear VOI function of C.11.2.1.2.1),
//      or the image's own min..max when the file has no window
//   -> 0..255, inverted for MONOCHROME1 (where low values are white).
// Read: the uncompressed transfer syntaxes, deflate, RLE Lossless (dicom_pixels.ts), 1 to 32
// bits allocated, RGB / YBR_FULL / YBR_FULL_422 colour as luma (with a note), and files
// without the Part 10 preamble (implicit VR little endian assumed, as PS3.5 says for them).
// Refused, each with what to do: JPEG, JPEG-LS and JPEG 2000 pixel data, palette colour,
// multi-frame files, and objects that hold no image (an RT Plan, a structured report: named
// by their SOP class). Modality and VOI LUT sequences and the
// SIGMOID VOI function are not applied (the linear window is used): rare in the images this
// tool segments, and a viewer's exact rendering is not what the model needs.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet } from 'dicom-parser';
import { CODEC_SYNTAXES, type DecodedFrame, decodeFrame } from './dicom_codecs.js';
import { RLE_LOSSLESS, requireUint16, storedPixels } from './dicom_pixels.js';
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
const DEFLATE = '1.2.840.10008.1.2.1.99';
/** Inflating a deflated data set stops here: a small file must not become gigabytes. */
const MAX_INFLATED_BYTES = 512 * 1024 * 1024;

/** Compressed pixel data this reader does not decode, by transfer syntax. */
const COMPRESSED_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG extended (12-bit)',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless (first-order prediction)',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K lossless',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
};

/** Objects that are DICOM but not images, by SOP Class UID: named plainly when they reach us. */
const NON_IMAGE_CLASSES: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.481.5': 'an RT Plan',
  '1.2.840.10008.5.1.4.1.1.481.3': 'an RT Structure Set',
  '1.2.840.10008.5.1.4.1.1.481.4': 'an RT Beams Treatment Record',
  '1.2.840.10008.5.1.4.1.1.88.11': 'a Basic Text structured report',
  '1.2.840.10008.5.1.4.1.1.88.22': 'an Enhanced structured report',
  '1.2.840.10008.5.1.4.1.1.88.33': 'a Comprehensive structured report',
  '1.2.840.10008.5.1.4.1.1.9.1.1': 'a 12-lead ECG waveform',
  '1.2.840.10008.5.1.4.1.1.104.1': 'an encapsulated PDF',
  '1.2.840.10008.5.1.4.1.1.66': 'a raw data object',
  '1.2.840.10008.1.3.10': 'a media storage directory (DICOMDIR)',
};
const CONVERT = 'convert it to uncompressed little endian first, e.g. `gdcmconv --raw in.dcm out.dcm` (GDCM), or `dcmdjpeg` (JPEG) / `dcmdjpls` (JPEG-LS) from DCMTK';

/** dicom-parser throws strings or { exception } objects, not Errors: make a readable message. */
function parserMessage(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return String((err as { exception: unknown }).exception);
  return err instanceof Error ? err.message : String(err);
}

const inflater = (bytes: Uint8Array, position: number): Uint8Array => {
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(bytes.subarray(position), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (err) {
    throw new Error(`the deflated data set does not inflate (${(err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? `more than ${MAX_INFLATED_BYTES / 1024 / 1024} MB` : (err as Error).message})`);
  }
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position), 0);
  full.set(inflated, position);
  return full;
};

/** A parsed data set and its transfer syntax. Files without the Part 10 preamble are read too. */
function parse(bytes: Uint8Array): { ds: DataSet; syntax: string } {
  if (!isDicomBytes(bytes)) return parseWithoutPreamble(bytes);
  let meta: DataSet;
  try {
    meta = dicomParser.readPart10Header(bytes);
  } catch (err) {
    throw new Error(`corrupt DICOM file meta header: ${parserMessage(err)}`);
  }
  const syntax = meta.string('x00020010')?.replace(/\0/g, '').trim() ?? '';
  if (COMPRESSED_NAMES[syntax] && !CODEC_SYNTAXES[syntax]) {
    throw new Error(`the pixel data is ${COMPRESSED_NAMES[syntax]}-compressed (transfer syntax ${syntax}), which this reader does not decode yet: ${CONVERT}`);
  }
  if (!UNCOMPRESSED.has(syntax) && syntax !== RLE_LOSSLESS && syntax !== DEFLATE && !CODEC_SYNTAXES[syntax]) {
    throw new Error(`transfer syntax ${syntax || '(missing)'} is not supported (supported: ${[...UNCOMPRESSED.values()].join(', ')}, deflate, RLE lossless): ${CONVERT}`);
  }
  try {
    return { ds: dicomParser.parseDicom(bytes, { inflater: inflater as unknown as (arr: Uint8Array, position: number) => void }), syntax };
  } catch (err) {
    throw new Error(`corrupt DICOM data set: ${parserMessage(err)}`);
  }
}


/**
 * A data set with no preamble and no file meta (older files, some archives): PS3.5 makes
 * implicit VR little endian the default; explicit VR (either byte order) is recognised by a
 * two-letter VR after the first tag.
 */
function parseWithoutPreamble(bytes: Uint8Array): { ds: DataSet; syntax: string } {
  if (bytes.length < 8) throw new Error('not a DICOM file (too short, and no "DICM" marker at byte 128)');
  const vr = String.fromCharCode(bytes[4], bytes[5]);
  const explicit = /^[A-Z]{2}$/.test(vr);
  const bigEndian = explicit && bytes[0] === 0x00 && bytes[1] !== 0x00;
  const syntax = !explicit ? '1.2.840.10008.1.2' : bigEndian ? BIG_ENDIAN : '1.2.840.10008.1.2.1';
  const group = bigEndian ? (bytes[0] << 8) | bytes[1] : bytes[0] | (bytes[1] << 8);
  if (group !== 0x0008 && group !== 0x0002 && group > 0x0028) {
    throw new Error('not a DICOM file: no "DICM" marker at byte 128, and the data does not start like a DICOM data set; export the image as a standard .dcm file');
  }
  try {
    return { ds: dicomParser.parseDicom(bytes, { TransferSyntaxUID: syntax }), syntax };
  } catch (err) {
    throw new Error(`not a readable DICOM file (no "DICM" marker at byte 128, read as ${UNCOMPRESSED.get(syntax)}: ${parserMessage(err)})`);
  }
}


/** A data set that holds no image is named by its SOP class, not reported as a broken image. */
function requireImage(ds: DataSet): void {
  if (ds.elements.x7fe00010 || ds.elements.x7fe00008 || ds.elements.x7fe00009) return;
  const sopClass = ds.string('x00080016')?.replace(/\0/g, '').trim() ?? '';
  const kind = NON_IMAGE_CLASSES[sopClass] ?? (sopClass ? `a DICOM object of SOP class ${sopClass}` : 'a DICOM object');
  throw new Error(`this file is ${kind}, which holds no image (no Pixel Data): pass an image of the study instead`);
}

/** The first value of a multi-valued decimal string (Window Center "40\\400" lists several windows). */
function firstFloat(ds: DataSet, tag: string): number | undefined {
  const v = ds.floatString(tag, 0);
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** The compressed frame decoded by its codec, or undefined for native and RLE pixel data. */
async function codecFrame(ds: DataSet, syntax: string): Promise<DecodedFrame | undefined> {
  if (!CODEC_SYNTAXES[syntax]) return undefined;
  const element = ds.elements.x7fe00010;
  if (!element?.fragments) throw new Error('compressed pixel data without fragments: the file is damaged');
  const frames = ds.intString('x00280008') ?? 1;
  if (frames > 1) throw new Error(`multi-frame DICOM (${frames} frames) is not supported: split it into single-frame files (e.g. \`gdcmtar --split\`) or convert the series to NIfTI (\`dcm2niix\`) and pass the .nii.gz`);
  const encoded = dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, element.fragments.length);
  return decodeFrame(syntax, encoded);
}

/** A decoded DICOM data set as 8-bit greyscale (see the file comment for the value mapping). */
export async function decodeDicom(bytes: Uint8Array): Promise<GreyImage> {
  const { ds, syntax } = parse(bytes);
  requireImage(ds);
  if (ds.elements.x7fe00008 || ds.elements.x7fe00009) throw new Error('float pixel data (Float Pixel Data / Double Float Pixel Data) is not supported: export the image as integers or NIfTI');
  const { rows, columns, values, notes } = storedPixels(ds, syntax, syntax === BIG_ENDIAN, await codecFrame(ds, syntax));
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
  return { width: columns, height: rows, data: out, ...(spacing ? { spacing } : {}), ...(notes.length ? { notes } : {}) };
}

/** One value per pixel before any mapping (stored values, or luma for colour): for tests against other readers. */
export async function dicomStoredValues(bytes: Uint8Array): Promise<{ rows: number; columns: number; values: Float64Array; notes: string[] }> {
  const { ds, syntax } = parse(bytes);
  requireImage(ds);
  return storedPixels(ds, syntax, syntax === BIG_ENDIAN, await codecFrame(ds, syntax));
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
  const { ds } = parse(bytes);
  requireImage(ds);
  return { width: requireUint16(ds, 'x00280011', 'Columns'), height: requireUint16(ds, 'x00280010', 'Rows') };
}

/** Whether bytes are a DICOM Part 10 file (the "DICM" marker at byte 128). */
export function isDicomBytes(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}
