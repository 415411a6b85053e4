// Pixels from disk: 2-D image files (PNG, JPEG, TIFF, WebP, GIF through sharp; BMP decoded
// here, since sharp's prebuilt libvips has no BMP loader; single-frame DICOM through
// dicom.ts) and axial slices of NIfTI volumes.
//
// Images come out as 8-bit greyscale. Masks come out as 0/1, under one rule for every
// source (MASK_RULE below). NIfTI slices are taken in voxel order (x along the row, y down
// the rows, z the slice), with no reorientation to a display convention: image and label
// volumes are cut the same way, which is what a segmentation model needs. Decoded volumes
// stay in a small LRU cache, since consecutive cases usually come from the same volume.
import { createReadStream, existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { open, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import sharp from 'sharp';
import { dicomSize, isDicomPath, loadDicom } from './dicom.js';
import type { GreyImage, ImageSource, MaskSource } from './types.js';

const gunzipAsync = promisify(gunzip);

/**
 * How a mask's pixel values become 0/1: a pixel is foreground when its largest colour
 * channel is > 127, except in masks whose largest value is 1 (0/1 masks), where > 0 counts.
 * So 0/255 masks, 0/1 masks, 3-channel masks (any colour channel) and JPEG masks with
 * compression noise all give the intended binary mask.
 */
export const MASK_RULE = 'foreground = max over colour channels > 127, or > 0 when the mask holds no value above 1';

export function isNiftiPath(path: string): boolean {
  const p = path.toLowerCase();
  return p.endsWith('.nii') || p.endsWith('.nii.gz');
}

function isBmpPath(path: string): boolean {
  return extname(path).toLowerCase() === '.bmp' || extname(path).toLowerCase() === '.dib';
}

/** A short reason for an error: "file not found" for a missing file, else the error's message. */
/**
 * sharp decides that a file it cannot open is missing by reading the end of libvips' error
 * buffer, which every thread shares: read side by side, a file in no format it knows can come
 * back "Input file is missing" and a missing file "unsupported image format" (both seen in CI,
 * where validation reads three files at a time). Whether the file is there decides instead.
 */
export function correctedSharpError(err: unknown, path: string): unknown {
  const message = (err as Error | undefined)?.message ?? '';
  const saysMissing = /^Input file is missing/.test(message);
  if (!existsSync(path)) return saysMissing ? err : new Error(`Input file is missing: ${path}`);
  if (saysMissing) return new Error('Input file contains unsupported image format');
  return err;
}

/** sharp's metadata of a file on disk, its errors corrected (correctedSharpError). */
async function sharpMetadata(image: sharp.Sharp, path: string): Promise<sharp.Metadata> {
  try {
    return await image.metadata();
  } catch (err) {
    throw correctedSharpError(err, path);
  }
}

export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && (e.code === 'ENOENT' || /^Input file is missing/.test(e.message ?? ''))) return 'file not found';
  if (e && e.code === 'EACCES') return 'permission denied';
  if (e && e.code === 'EISDIR') return 'is a folder, not a file';
  return e && typeof e.message === 'string' ? e.message : String(err);
}

// ---------------------------------------------------------------------------------------
// 2-D files

interface RawPixels {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Minimal BMP decoder: BITMAPINFOHEADER and later, uncompressed 1/4/8/24/32-bit and 16/32-bit bitfields. */
export function decodeBmp(buf: Uint8Array): RawPixels {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 26 || buf[0] !== 0x42 || buf[1] !== 0x4d) throw new Error('not a BMP file (no "BM" signature)');
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  if (headerSize < 40) throw new Error(`unsupported BMP header (size ${headerSize}; OS/2 bitmaps are not supported)`);
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) throw new Error(`bad BMP size ${width}x${rawHeight}`);
  if (compression !== 0 && compression !== 3) throw new Error(`unsupported BMP compression ${compression} (RLE and embedded JPEG/PNG are not supported)`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`bad BMP bit depth ${bpp} (expected 1, 4, 8, 16, 24 or 32): the file is damaged`);
  if (compression === 3 && bpp !== 16 && bpp !== 32) throw new Error(`bad BMP: bitfields need 16 or 32 bits per pixel, the header says ${bpp}`);
  // Palette (for <= 8 bpp): BGRA quads after the info header.
  const paletteStart = 14 + headerSize;
  const colorsUsed = dv.getUint32(46, true);
  if (bpp <= 8) {
    const count = colorsUsed || 1 << bpp;
    if (count > 1 << bpp) throw new Error(`bad BMP palette: ${count} colours for ${bpp} bits per pixel`);
    if (paletteStart + count * 4 > Math.min(dataOffset, buf.length)) throw new Error(`bad BMP palette: ${count} colours run past the pixel data (offset ${dataOffset}) or the end of the file`);
  }
  if (compression === 3 && headerSize < 52 && paletteStart + 12 > buf.length) throw new Error('bad BMP: the bitfield masks run past the end of the file');
  if (dataOffset < paletteStart || dataOffset >= buf.length) throw new Error(`bad BMP pixel data offset ${dataOffset} (the file is ${buf.length} bytes)`);
  // Channel masks for bitfields (compression 3), or the defaults for 16/32 bpp.
  let masks: [number, number, number] | null = null;
  if (compression === 3) {
    const at = headerSize >= 52 ? 54 : paletteStart; // V2+ headers hold the masks, else they follow the header
    masks = [dv.getUint32(at, true), dv.getUint32(at + 4, true), dv.getUint32(at + 8, true)];
  } else if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f];
  else if (bpp === 32) masks = [0x00ff0000, 0x0000ff00, 0x000000ff];
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > buf.length) throw new Error('BMP pixel data is truncated');
  const out = new Uint8Array(width * height * 3);
  const field = (v: number, mask: number): number => {
    if (mask === 0) return 0;
    let shift = 0;
    while (((mask >>> shift) & 1) === 0) shift++;
    const max = mask >>> shift;
    return Math.round((((v & mask) >>> shift) * 255) / max);
  };
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let r: number, g: number, b: number;
      if (bpp <= 8) {
        const bitPos = x * bpp;
        const byte = buf[row + (bitPos >> 3)];
        const idx = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        const count = colorsUsed || 1 << bpp;
        if (idx >= count) throw new Error(`BMP palette index ${idx} out of range`);
        const p = paletteStart + idx * 4;
        b = buf[p];
        g = buf[p + 1];
        r = buf[p + 2];
      } else if (bpp === 24) {
        const p = row + x * 3;
        b = buf[p];
        g = buf[p + 1];
        r = buf[p + 2];
      } else if ((bpp === 16 || bpp === 32) && masks) {
        const v = bpp === 16 ? dv.getUint16(row + x * 2, true) : dv.getUint32(row + x * 4, true);
        r = field(v, masks[0]);
        g = field(v, masks[1]);
        b = field(v, masks[2]);
      } else throw new Error(`unsupported BMP bit depth ${bpp}`);
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  }
  return { width, height, channels: 3, data: out };
}

/**
 * Every colour channel of a 2-D file, alpha dropped, 8 bits per sample. 16-bit files whose
 * values all fit in 8 bits (a 16-bit mask holding 0/1 or 0/255) keep their values; other
 * 16-bit files are scaled down by 257.
 */
async function readRaw(path: string): Promise<RawPixels> {
  if (isBmpPath(path)) return decodeBmp(await readFile(path));
  const image = sharp(path);
  const meta = await sharpMetadata(image, path);
  const grey = (meta.channels ?? 3) <= 2;
  if (meta.depth === 'ushort') {
    const { data, info } = await image
      .removeAlpha()
      .toColourspace(grey ? 'grey16' : 'rgb16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true });
    const wide = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
    let max = 0;
    for (let i = 0; i < wide.length; i++) if (wide[i] > max) max = wide[i];
    const out = new Uint8Array(wide.length);
    if (max <= 255) out.set(wide);
    else for (let i = 0; i < wide.length; i++) out[i] = Math.round(wide[i] / 257);
    return { width: info.width, height: info.height, channels: info.channels, data: out };
  }
  const { data, info } = await image
    .removeAlpha()
    .toColourspace(grey ? 'b-w' : 'srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

async function loadGreyFile(path: string): Promise<GreyImage> {
  if (isDicomPath(path)) return loadDicom(path);
  if (isBmpPath(path)) {
    const raw = await readRaw(path);
    const data = new Uint8Array(raw.width * raw.height);
    // Rec. 601 luma, as sharp's greyscale uses for sRGB input.
    for (let i = 0, o = 0; i < data.length; i++, o += raw.channels) {
      data[i] = Math.round(0.299 * raw.data[o] + 0.587 * raw.data[o + 1] + 0.114 * raw.data[o + 2]);
    }
    return { width: raw.width, height: raw.height, data };
  }
  const { data, info } = await sharp(path).removeAlpha().greyscale().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (info.channels === 1) return { width: info.width, height: info.height, data: bytes };
  const grey = new Uint8Array(info.width * info.height);
  for (let i = 0; i < grey.length; i++) grey[i] = bytes[i * info.channels];
  return { width: info.width, height: info.height, data: grey };
}

/** 0/1 from raw pixels: foreground where the largest colour channel is > threshold, else by MASK_RULE. */
export function binarise(raw: RawPixels, threshold?: number): GreyImage {
  const n = raw.width * raw.height;
  const colour = raw.channels === 2 || raw.channels === 4 ? raw.channels - 1 : raw.channels;
  const peak = new Uint8Array(n);
  let max = 0;
  for (let i = 0, o = 0; i < n; i++, o += raw.channels) {
    let v = raw.data[o];
    for (let c = 1; c < colour; c++) if (raw.data[o + c] > v) v = raw.data[o + c];
    peak[i] = v;
    if (v > max) max = v;
  }
  const cut = threshold ?? (max <= 1 ? 0 : 127);
  for (let i = 0; i < n; i++) peak[i] = peak[i] > cut ? 1 : 0;
  return { width: raw.width, height: raw.height, data: peak };
}

/** The distinct values of a mask (its largest colour channel per pixel), ascending. */
export function maskValues(raw: RawPixels): number[] {
  const colour = raw.channels === 2 || raw.channels === 4 ? raw.channels - 1 : raw.channels;
  const seen = new Uint8Array(256);
  for (let o = 0; o < raw.data.length; o += raw.channels) {
    let v = raw.data[o];
    for (let c = 1; c < colour; c++) if (raw.data[o + c] > v) v = raw.data[o + c];
    seen[v] = 1;
  }
  const values: number[] = [];
  for (let v = 0; v < 256; v++) if (seen[v]) values.push(v);
  return values;
}

/** A 2-D mask file decoded once: its 0/1 mask (MASK_RULE) and the values it held. Errors name the file. */
export async function loadMaskFileWithValues(path: string, threshold?: number): Promise<{ mask: GreyImage; values: number[] }> {
  try {
    const raw = await readRaw(path);
    return { mask: binarise(raw, threshold), values: maskValues(raw) };
  } catch (err) {
    throw new Error(`cannot read mask ${path}: ${describeError(err)}`);
  }
}

// ---------------------------------------------------------------------------------------
// NIfTI volumes

type VoxelArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface Volume {
  path: string;
  /** Voxels along x, y, z (a 4-D file keeps its first volume, t = 0). */
  nx: number;
  ny: number;
  nz: number;
  /** Stored values, x fastest; real value = raw * slope + inter. */
  data: VoxelArray;
  slope: number;
  inter: number;
  /** Voxel spacing along x and y in mm (pixdim[1], pixdim[2]); absent when the header gives none. */
  spacing?: [number, number];
}

interface DataType {
  name: string;
  bytes: number;
  make: (buffer: ArrayBufferLike, offset: number, length: number) => VoxelArray;
  get: (dv: DataView, offset: number, little: boolean) => number;
  set: (dv: DataView, offset: number, value: number) => void;
}

const DATATYPES: Record<number, DataType> = {
  2: { name: 'uint8', bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n), get: (d, o) => d.getUint8(o), set: (d, o, v) => d.setUint8(o, v) },
  256: { name: 'int8', bytes: 1, make: (b, o, n) => new Int8Array(b, o, n), get: (d, o) => d.getInt8(o), set: (d, o, v) => d.setInt8(o, v) },
  4: { name: 'int16', bytes: 2, make: (b, o, n) => new Int16Array(b, o, n), get: (d, o, l) => d.getInt16(o, l), set: (d, o, v) => d.setInt16(o, v, true) },
  512: { name: 'uint16', bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n), get: (d, o, l) => d.getUint16(o, l), set: (d, o, v) => d.setUint16(o, v, true) },
  8: { name: 'int32', bytes: 4, make: (b, o, n) => new Int32Array(b, o, n), get: (d, o, l) => d.getInt32(o, l), set: (d, o, v) => d.setInt32(o, v, true) },
  768: { name: 'uint32', bytes: 4, make: (b, o, n) => new Uint32Array(b, o, n), get: (d, o, l) => d.getUint32(o, l), set: (d, o, v) => d.setUint32(o, v, true) },
  16: { name: 'float32', bytes: 4, make: (b, o, n) => new Float32Array(b, o, n), get: (d, o, l) => d.getFloat32(o, l), set: (d, o, v) => d.setFloat32(o, v, true) },
  64: { name: 'float64', bytes: 8, make: (b, o, n) => new Float64Array(b, o, n), get: (d, o, l) => d.getFloat64(o, l), set: (d, o, v) => d.setFloat64(o, v, true) },
};

/** An ArrayBuffer holding exactly these bytes (the Buffer's own when it spans all of it). */
function exactArrayBuffer(buf: Uint8Array): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer;
  const copy = new Uint8Array(buf.byteLength); // (Buffer#slice would share memory, not copy)
  copy.set(buf);
  return copy.buffer;
}

function parseHeader(bytes: Uint8Array): nifti.NIFTI1 | nifti.NIFTI2 {
  const ab = exactArrayBuffer(bytes);
  if (!nifti.isNIFTI(ab)) throw new Error('not a NIfTI-1/NIfTI-2 single file (.nii/.nii.gz; .hdr/.img pairs are not supported)');
  return nifti.readHeader(ab);
}

function headerDims(header: nifti.NIFTI1 | nifti.NIFTI2): { nx: number; ny: number; nz: number } {
  const d = header.dims;
  const ndim = d[0];
  if (!(ndim >= 2) || ndim > 7) throw new Error(`bad NIfTI dims[0] = ${ndim}`);
  const nx = d[1];
  const ny = d[2];
  const nz = ndim >= 3 ? d[3] : 1;
  for (const [k, v] of [['x', nx], ['y', ny], ['z', nz]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`bad NIfTI size along ${k}: ${v}`);
  }
  return { nx, ny, nz };
}

/**
 * What a volume may cost before it is decoded: a 1 MB .nii.gz of zeros can inflate to
 * gigabytes. The header is read first (cheap) and checked; decompression is then capped at
 * the size the header announced, so a header that lies cannot get past the limit either.
 */
export interface VolumeLimits {
  /** Largest decompressed file, in bytes (default 1 GiB). */
  maxBytes: number;
  /** Most slices along z (default 2048). */
  maxSlices: number;
}
export const DEFAULT_VOLUME_LIMITS: VolumeLimits = { maxBytes: 1024 * 1024 * 1024, maxSlices: 2048 };
let volumeLimits: VolumeLimits = { ...DEFAULT_VOLUME_LIMITS };

export function setVolumeLimits(limits: Partial<VolumeLimits>): void {
  volumeLimits = { ...DEFAULT_VOLUME_LIMITS, ...limits };
}

/** Decodes a whole .nii or .nii.gz (the first 3-D volume of a 4-D file). */
export async function decodeNifti(path: string): Promise<Volume> {
  return decodeNiftiBytes(await readFile(path), path);
}

/** The header block of NIfTI bytes (an upload), as readNiftiHeaderBlock gives it for a file. */
export async function niftiHeaderOfBytes(bytes: Uint8Array): Promise<{ bytes: Uint8Array; header: nifti.NIFTI1 | nifti.NIFTI2 }> {
  const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  return headerBlock(gz ? await inflateHead(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]), 540) : bytes.subarray(0, 540));
}

/** Decodes NIfTI bytes (a file's, or an upload's); `name` is for messages. */
export async function decodeNiftiBytes(file: Uint8Array, name: string): Promise<Volume> {
  const { header: head } = await niftiHeaderOfBytes(file);
  const dims = headerDims(head);
  const headType = DATATYPES[head.datatypeCode];
  const needed = Math.max(0, Math.round(head.vox_offset)) + dims.nx * dims.ny * dims.nz * (headType?.bytes ?? 1);
  if (dims.nz > volumeLimits.maxSlices) {
    throw new Error(`the volume has ${dims.nz} slices, more than the limit of ${volumeLimits.maxSlices} (--max-slices): pass a larger --max-slices if it is real`);
  }
  if (needed > volumeLimits.maxBytes) {
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    throw new Error(`the volume is ${dims.nx}x${dims.ny}x${dims.nz} (${mb(needed)} MB decompressed), more than the limit of ${mb(volumeLimits.maxBytes)} MB (--max-volume-mb): pass a larger --max-volume-mb if it is real`);
  }
  let buf: Uint8Array = file;
  if (buf.length >= 2 && nifti.isCompressed(exactArrayBuffer(buf.subarray(0, 2)))) {
    // Inflate no further than the header announces (every volume of a 4-D file, and 64 KiB for
    // extensions and padding): a header that lies costs little, not the limit.
    const all = head.dims.slice(1, 1 + Math.max(3, head.dims[0])).reduce((a, b) => a * Math.max(1, b), 1);
    const announced = Math.max(0, Math.round(head.vox_offset)) + all * (headType?.bytes ?? 1) + 64 * 1024;
    const cap = Math.min(volumeLimits.maxBytes, announced);
    try {
      buf = await gunzipAsync(buf, { maxOutputLength: cap });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new Error(
          cap < volumeLimits.maxBytes
            ? `the file decompresses to more than its header announces (${(announced / 1024 / 1024).toFixed(1)} MB): it is damaged, or not a plain volume`
            : `the file decompresses to more than the limit of ${(volumeLimits.maxBytes / 1024 / 1024).toFixed(0)} MB (--max-volume-mb), more than its header announces: it is damaged or not a plain volume`,
        );
      }
      throw new Error(`cannot decompress: ${describeError(err)}`);
    }
  }
  const header = parseHeader(buf);
  const { nx, ny, nz } = headerDims(header);
  const type = DATATYPES[header.datatypeCode];
  if (!type) throw new Error(`unsupported NIfTI datatype ${header.datatypeCode} (supported: ${Object.values(DATATYPES).map((t) => t.name).join(', ')})`);
  const count = nx * ny * nz;
  const start = Math.round(header.vox_offset);
  if (start < 0 || start + count * type.bytes > buf.length) {
    throw new Error(`NIfTI data is truncated: ${nx}x${ny}x${nz} ${type.name} from byte ${start} needs ${start + count * type.bytes} bytes, the file has ${buf.length}`);
  }
  let data: VoxelArray;
  const little = header.littleEndian;
  if (little && (buf.byteOffset + start) % type.bytes === 0) {
    data = type.make(buf.buffer, buf.byteOffset + start, count);
  } else {
    // Unaligned or big-endian: copy value by value into a fresh little-endian array.
    const src = new DataView(buf.buffer, buf.byteOffset + start, count * type.bytes);
    const copy = new ArrayBuffer(count * type.bytes);
    const dst = new DataView(copy);
    for (let i = 0, o = 0; i < count; i++, o += type.bytes) type.set(dst, o, type.get(src, o, little));
    data = type.make(copy, 0, count);
  }
  const slopeRaw = header.scl_slope;
  const slope = Number.isFinite(slopeRaw) && slopeRaw !== 0 ? slopeRaw : 1;
  const inter = Number.isFinite(header.scl_inter) && slopeRaw !== 0 && Number.isFinite(slopeRaw) ? header.scl_inter : 0;
  const px = header.pixDims?.[1];
  const py = header.pixDims?.[2];
  const spacing: [number, number] | undefined = px !== undefined && py !== undefined && px > 0 && py > 0 && Number.isFinite(px) && Number.isFinite(py) ? [px, py] : undefined;
  return { path: name, nx, ny, nz, data, slope, inter, ...(spacing ? { spacing } : {}) };
}

/** The first bytes of a file, gunzipped when it is gzip. */
async function readHead(path: string, bytes: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  let first: Uint8Array;
  try {
    const b = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(b, 0, bytes, 0);
    first = b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (!(first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b)) return first;
  return inflateHead(createReadStream(path), bytes);
}

/** The first `n` bytes a gzip stream inflates to, inflating no more than that (a bomb costs nothing here). */
function inflateHead(input: Readable, n: number): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let done = false;
    const unzip = createGunzip();
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      input.destroy();
      unzip.destroy();
      if (err && got < 4) reject(new Error(`cannot decompress: ${describeError(err)}`));
      else resolve(Buffer.concat(chunks).subarray(0, n));
    };
    unzip.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) finish(null);
    });
    unzip.on('end', () => finish(null));
    unzip.on('error', (e) => finish(e));
    input.on('error', (e) => finish(e));
    input.pipe(unzip);
  });
}

/**
 * The header of a NIfTI file as stored (348 bytes for NIfTI-1, 540 for NIfTI-2, gunzipped)
 * and its parse. Cheap: decompresses the first bytes only. The raw bytes let a mask written
 * for this volume keep its geometry exactly (nifti_mask.ts).
 */
export async function readNiftiHeaderBlock(path: string): Promise<{ bytes: Uint8Array; header: nifti.NIFTI1 | nifti.NIFTI2 }> {
  return headerBlock(await readHead(path, 540));
}

/** A header block from the first (up to 540) bytes: NIfTI-1 keeps 348 of them, NIfTI-2 all 540. */
function headerBlock(head: Uint8Array): { bytes: Uint8Array; header: nifti.NIFTI1 | nifti.NIFTI2 } {
  if (head.length < 348) throw new Error(`too short for a NIfTI header (${head.length} bytes)`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const block = dv.getInt32(0, true) === 348 || dv.getInt32(0, false) === 348 ? head.subarray(0, 348) : head;
  return { bytes: block, header: parseHeader(block) };
}

/**
 * Refuses a 4-D (or higher) NIfTI with its shape named: predict and serve segment 3-D volumes,
 * and quietly taking the first of several volumes would answer a question nobody asked.
 */
export function requireThreeD(header: nifti.NIFTI1 | nifti.NIFTI2, name: string): void {
  const d = header.dims;
  const extra = d.slice(4, 1 + Math.max(3, d[0])).filter((v) => v > 1);
  if (d[0] >= 4 && extra.length > 0) {
    const shape = d.slice(1, 1 + d[0]).join('x');
    throw new Error(`${name} is a ${d[0]}-D volume (${shape}): pass one 3-D volume, e.g. \`fslroi in.nii.gz t0.nii.gz 0 1\` or nibabel's img.slicer[..., t]`);
  }
}

/** Sizes of a NIfTI volume from its header only (cheap: decompresses the first bytes). */
export async function readNiftiHeader(path: string): Promise<{ nx: number; ny: number; nz: number; datatype: number }> {
  const { header } = await readNiftiHeaderBlock(path);
  return { ...headerDims(header), datatype: header.datatypeCode };
}

// A small LRU of decoded volumes, keyed by path; holds promises so concurrent loads of the
// same volume share one decode.
let cacheCapacity = 3;
const volumes = new Map<string, Promise<Volume>>();

/** How many decoded volumes to keep (default 3: an image and its label, plus one more). */
export function setVolumeCacheSize(n: number): void {
  cacheCapacity = Math.max(1, Math.floor(n));
  while (volumes.size > cacheCapacity) volumes.delete(volumes.keys().next().value as string);
}

export function clearVolumeCache(): void {
  volumes.clear();
}

/** A decoded volume, from the cache when there. */
export function getVolume(path: string): Promise<Volume> {
  const hit = volumes.get(path);
  if (hit) {
    volumes.delete(path);
    volumes.set(path, hit);
    return hit;
  }
  const p = decodeNifti(path);
  volumes.set(path, p);
  p.catch(() => {
    if (volumes.get(path) === p) volumes.delete(path);
  });
  while (volumes.size > cacheCapacity) volumes.delete(volumes.keys().next().value as string);
  return p;
}

function checkSlice(vol: Volume, slice: number): void {
  if (!Number.isInteger(slice) || slice < 0 || slice >= vol.nz) throw new Error(`slice ${slice} out of range (the volume has ${vol.nz} slices)`);
}

/** Real values (after scl_slope/scl_inter) of one axial slice mapped through a window to 0..255. */
export function windowSlice(vol: Volume, slice: number, window: [number, number]): GreyImage {
  checkSlice(vol, slice);
  const [lo, hi] = window;
  if (!(hi > lo)) throw new Error(`bad window [${lo}, ${hi}]: the upper bound must exceed the lower`);
  const n = vol.nx * vol.ny;
  const out = new Uint8Array(n);
  const base = slice * n;
  const span = hi - lo;
  const { data, slope, inter } = vol;
  for (let i = 0; i < n; i++) {
    const v = ((data[base + i] * slope + inter - lo) * 255) / span;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return { width: vol.nx, height: vol.ny, data: out, ...(vol.spacing ? { spacing: vol.spacing } : {}) };
}

/** 0/1 where the (rounded, scaled) label value equals `label`. */
export function labelSlice(vol: Volume, slice: number, label: number): GreyImage {
  checkSlice(vol, slice);
  const n = vol.nx * vol.ny;
  const out = new Uint8Array(n);
  const base = slice * n;
  const { data, slope, inter } = vol;
  for (let i = 0; i < n; i++) out[i] = Math.round(data[base + i] * slope + inter) === label ? 1 : 0;
  return { width: vol.nx, height: vol.ny, data: out };
}

// ---------------------------------------------------------------------------------------
// The two entry points

/** An image as 8-bit greyscale. Errors name the file. */
export async function loadImage(source: ImageSource): Promise<GreyImage> {
  try {
    if (source.kind === 'nifti-slice') return windowSlice(await getVolume(source.path), source.slice, source.window);
    if (isNiftiPath(source.path)) throw new Error('a NIfTI volume needs a slice (an image source of kind "nifti-slice")');
    return await loadGreyFile(source.path);
  } catch (err) {
    throw new Error(`cannot read image ${source.path}${source.kind === 'nifti-slice' ? ` (slice ${source.slice})` : ''}: ${describeError(err)}`);
  }
}

/** A mask as 0/1 (see MASK_RULE; NIfTI: voxels equal to the label). Errors name the file. */
export async function loadMask(source: MaskSource): Promise<GreyImage> {
  try {
    if (source.kind === 'nifti-slice') return labelSlice(await getVolume(source.path), source.slice, source.label);
    if (isNiftiPath(source.path)) throw new Error('a NIfTI label volume needs a slice and a label (a mask source of kind "nifti-slice")');
    return binarise(await readRaw(source.path), source.threshold);
  } catch (err) {
    throw new Error(`cannot read mask ${source.path}${source.kind === 'nifti-slice' ? ` (slice ${source.slice}, label ${source.label})` : ''}: ${describeError(err)}`);
  }
}

/** Width and height of a 2-D image file from its header (sharp metadata; BMP parsed here). */
export async function imageFileSize(path: string): Promise<{ width: number; height: number }> {
  if (isDicomPath(path)) return dicomSize(path);
  if (isBmpPath(path)) {
    const head = await readHead(path, 26);
    if (head.length < 26 || head[0] !== 0x42 || head[1] !== 0x4d) throw new Error('not a BMP file (no "BM" signature)');
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    return { width: dv.getInt32(18, true), height: Math.abs(dv.getInt32(22, true)) };
  }
  const meta = await sharpMetadata(sharp(path), path);
  if (!meta.width || !meta.height) throw new Error('no image size in the file header');
  // EXIF orientations 5-8 swap width and height; sharp decodes without auto-rotation, so report as stored.
  return { width: meta.width, height: meta.height };
}
