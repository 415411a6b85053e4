// From a DICOM data set's Pixel Data to one value per pixel, before any value mapping:
// native (uncompressed) and RLE Lossless frames, 1 to 32 bits allocated, greyscale or colour.
// Colour becomes luma (Rec. 601: 0.299 R + 0.587 G + 0.114 B; for YBR_FULL and YBR_FULL_422 the
// stored Y is that luma already), and the caller is told so. RLE Lossless (PS3.5 Annex G) is
// written here: no maintained JavaScript package decodes it alone, and it is forty lines.
import dicomParser, { type DataSet } from 'dicom-parser';
import type { DecodedFrame } from './dicom_codecs.js';

export interface StoredPixels {
  rows: number;
  columns: number;
  /** Stored values (greyscale: after bit masking and sign extension; colour: luma). */
  values: Float64Array;
  /** What was done to make one grey value per pixel, for the user (empty for greyscale). */
  notes: string[];
}

export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

export function requireUint16(ds: DataSet, tag: string, name: string): number {
  const v = ds.uint16(tag);
  if (v === undefined) throw new Error(`no ${name} (${tag.slice(1, 5)},${tag.slice(5)}) in the data set`);
  return v;
}

/** PackBits, as RLE Lossless segments hold it: n >= 0 copies n + 1 bytes, n < 0 repeats one byte 1 - n times (-128: nothing). */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): void {
  let i = start;
  let o = 0;
  while (i < end && o < out.length) {
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) {
      const count = Math.min(n + 1, out.length - o, end - i);
      out.set(src.subarray(i, i + count), o);
      i += n + 1;
      o += count;
    } else if (n !== -128) {
      const count = Math.min(1 - n, out.length - o);
      out.fill(src[i++], o, o + count);
      o += count;
    }
  }
  if (o < out.length) throw new Error(`an RLE segment decodes to ${o} bytes, the frame needs ${out.length}: the pixel data is truncated`);
}

/** RLE Lossless: one segment per byte of each sample, most significant byte first. Returns, per sample, the byte planes. */
function decodeRle(frame: Uint8Array, pixels: number, samples: number, bytesPer: number): Uint8Array[][] {
  if (frame.length < 64) throw new Error('the RLE header is cut short');
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = dv.getUint32(0, true);
  if (segments !== samples * bytesPer) throw new Error(`the RLE header lists ${segments} segments, ${samples} sample(s) of ${bytesPer} byte(s) need ${samples * bytesPer}`);
  const offsets = Array.from({ length: segments }, (_, k) => dv.getUint32(4 + 4 * k, true));
  const planes: Uint8Array[][] = [];
  for (let s = 0; s < samples; s++) {
    const bytes: Uint8Array[] = [];
    for (let b = 0; b < bytesPer; b++) {
      const k = s * bytesPer + b;
      const out = new Uint8Array(pixels);
      unpackBits(frame, offsets[k], k + 1 < segments ? offsets[k + 1] : frame.length, out);
      bytes.push(out);
    }
    planes.push(bytes);
  }
  return planes;
}

/** The stored value of sample `s` of pixel `i`, read by `raw(i, s)` as an unsigned integer of `allocated` bits. */
function mapper(stored: number, highBit: number, signed: boolean): (raw: number) => number {
  const shift = highBit + 1 - stored;
  const mask = stored >= 32 ? 0xffffffff : 2 ** stored - 1;
  const signBit = 2 ** (stored - 1);
  return (raw) => {
    let v = Math.floor(raw / 2 ** shift) % (mask + 1);
    if (signed && v >= signBit) v -= 2 ** stored;
    return v;
  };
}

/** `decoded`: the frame as a codec gave it (compressed transfer syntaxes), else read from the data set. */
/**
 * PALETTE COLOR: three lookup tables (red, green, blue) from the descriptors (0028,1101-1103:
 * entries, first mapped value, bits per entry) and data (0028,1201-1203). Values below the
 * first mapped one take the first entry, above the last the last (PS3.3 C.7.6.3.1.5).
 */
function paletteOf(ds: DataSet): { luma: (v: number) => number } {
  const tables = ['1', '2', '3'].map((k) => {
    const entries0 = ds.uint16(`x0028110${k}`, 0);
    const first = ds.uint16(`x0028110${k}`, 1) ?? 0;
    const bits = ds.uint16(`x0028110${k}`, 2) ?? 16;
    const data = ds.elements[`x0028120${k}`];
    if (entries0 === undefined || !data) throw new Error('palette colour without its lookup tables (0028,110x / 0028,120x): the file is damaged');
    const entries = entries0 === 0 ? 65536 : entries0;
    const read = bits === 8 && data.length >= entries && data.length < entries * 2 ? (i: number) => ds.byteArray[data.dataOffset + i] : (i: number) => ds.uint16(`x0028120${k}`, i) ?? 0;
    const lut = Float64Array.from({ length: entries }, (_, i) => read(i));
    return { lut, first };
  });
  return {
    luma: (v) => {
      const at = (t: { lut: Float64Array; first: number }) => t.lut[Math.min(t.lut.length - 1, Math.max(0, v - t.first))];
      return 0.299 * at(tables[0]) + 0.587 * at(tables[1]) + 0.114 * at(tables[2]);
    },
  };
}

export function storedPixels(ds: DataSet, syntax: string, bigEndian: boolean, decoded?: DecodedFrame): StoredPixels {
  const frames = ds.intString('x00280008') ?? 1;
  if (frames > 1) throw new Error(`multi-frame DICOM (${frames} frames) is not supported: split it into single-frame files (e.g. \`gdcmtar --split\`) or convert the series to NIfTI (\`dcm2niix\`) and pass the .nii.gz`);
  const samples = ds.uint16('x00280002') ?? 1;
  const photometric = (ds.string('x00280004') ?? '').trim().toUpperCase();
  const grey = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  // A codec hands colour back as RGB whatever the file called its encoding (YBR_ICT, YBR_RCT, ...).
  const colour = samples === 3 && (decoded !== undefined || ['RGB', 'YBR_FULL', 'YBR_FULL_422'].includes(photometric));
  const palette = photometric === 'PALETTE COLOR' && samples === 1 ? paletteOf(ds) : null;
  if (!(grey && samples === 1) && !colour && !palette) {
    throw new Error(`${photometric || 'no photometric interpretation'} with ${samples} sample(s) per pixel is not supported: convert the image to greyscale or RGB (e.g. \`gdcmconv --raw\`, or export a PNG)`);
  }
  const rows = requireUint16(ds, 'x00280010', 'Rows');
  const columns = requireUint16(ds, 'x00280011', 'Columns');
  if (rows === 0 || columns === 0) throw new Error(`empty image (${columns}x${rows})`);
  const allocated = requireUint16(ds, 'x00280100', 'Bits Allocated');
  if (![1, 8, 16, 32].includes(allocated)) throw new Error(`Bits Allocated ${allocated} is not supported (1, 8, 16 or 32)`);
  if (allocated === 1 && samples !== 1) throw new Error('1-bit colour pixel data is not valid DICOM');
  const stored = ds.uint16('x00280101') ?? allocated;
  const highBit = ds.uint16('x00280102') ?? stored - 1;
  if (stored < 1 || stored > allocated || highBit < stored - 1 || highBit >= allocated) throw new Error(`inconsistent Bits Stored ${stored} / High Bit ${highBit} for Bits Allocated ${allocated}`);
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const element = ds.elements.x7fe00010;
  if (!element) throw new Error('no Pixel Data (7FE0,0010) in the data set');
  const pixels = rows * columns;
  const value = decoded ? mapper(stored, stored - 1, signed) : mapper(stored, highBit, signed);
  const bytesPer = Math.max(1, allocated / 8);
  // raw(i, s): sample s of pixel i as an unsigned integer.
  let raw: (i: number, s: number) => number;
  let asRgb = photometric === 'RGB';
  if (decoded) {
    const { info, bytes } = decoded;
    if (info.width !== columns || info.height !== rows || info.componentCount !== samples) {
      throw new Error(`the codec gave ${info.width}x${info.height} with ${info.componentCount} component(s); the data set says ${columns}x${rows} with ${samples}`);
    }
    const per = info.bitsPerSample > 8 ? 2 : 1;
    if (bytes.length < pixels * samples * per) throw new Error('the codec gave fewer samples than the image has pixels');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    raw = per === 1 ? (i, s) => bytes[i * samples + s] : (i, s) => dv.getUint16((i * samples + s) * 2, true);
    asRgb = samples === 3;
  } else if (syntax === RLE_LOSSLESS) {
    if (allocated === 1) throw new Error('1-bit RLE pixel data is not supported');
    const frame = dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, element.fragments?.length ?? 1);
    const planes = decodeRle(frame, pixels, samples, bytesPer);
    raw = (i, s) => {
      let v = 0;
      for (const plane of planes[s]) v = v * 256 + plane[i];
      return v;
    };
  } else {
    if (element.encapsulatedPixelData) throw new Error('the pixel data is encapsulated (compressed) under a transfer syntax that says it is not');
    const bytesNeeded = allocated === 1 ? Math.ceil(pixels / 8) : photometric === 'YBR_FULL_422' ? pixels * 2 * bytesPer : pixels * samples * bytesPer;
    if (element.length < bytesNeeded || element.dataOffset + bytesNeeded > ds.byteArray.length) {
      throw new Error(`Pixel Data is truncated: ${columns}x${rows}, ${samples} sample(s) at ${allocated} bits needs ${bytesNeeded} bytes, the element holds ${Math.min(element.length, ds.byteArray.length - element.dataOffset)}`);
    }
    const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + element.dataOffset, bytesNeeded);
    const planar = samples > 1 && (ds.uint16('x00280006') ?? 0) === 1;
    const read = (k: number) => (bytesPer === 1 ? dv.getUint8(k) : bytesPer === 2 ? dv.getUint16(k * 2, !bigEndian) : dv.getUint32(k * 4, !bigEndian));
    if (allocated === 1) raw = (i) => (ds.byteArray[element.dataOffset + (i >> 3)] >> (i & 7)) & 1;
    else if (photometric === 'YBR_FULL_422') {
      // Two pixels share one Cb and one Cr: Y0 Y1 Cb Cr. Luma is Y itself.
      raw = (i, s) => (s === 0 ? read((i >> 1) * 4 + (i & 1)) : read((i >> 1) * 4 + 1 + s));
    } else raw = planar ? (i, s) => read(s * pixels + i) : (i, s) => read(i * samples + s);
  }
  const values = new Float64Array(pixels);
  const notes: string[] = [];
  if (palette) {
    for (let i = 0; i < pixels; i++) values[i] = palette.luma(value(raw(i, 0)));
    notes.push('a palette colour image: segmented as the luma of its colours (0.299 R + 0.587 G + 0.114 B)');
  } else if (samples === 1) {
    for (let i = 0; i < pixels; i++) values[i] = value(raw(i, 0));
  } else if (asRgb) {
    for (let i = 0; i < pixels; i++) values[i] = 0.299 * value(raw(i, 0)) + 0.587 * value(raw(i, 1)) + 0.114 * value(raw(i, 2));
    notes.push(`${photometric === 'RGB' ? 'an RGB' : `a ${photometric} (decoded to RGB)`} image: segmented as its luma (0.299 R + 0.587 G + 0.114 B)`);
  } else {
    for (let i = 0; i < pixels; i++) values[i] = value(raw(i, 0));
    notes.push(`a ${photometric} colour image: segmented as its luma (the Y channel)`);
  }
  return { rows, columns, values, notes };
}
