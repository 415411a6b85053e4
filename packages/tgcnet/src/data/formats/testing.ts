// Small fixture writers for the data-layer tests: PNGs through sharp, NIfTI-1 volumes
// (348-byte header, data from byte 352, optionally gzip), xlsx through exceljs.
import ExcelJS from 'exceljs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tgcnet-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function ensureParent(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
}

/** A PNG of `channels` channels (1 = greyscale), filled with `value` or holding `pixels`. */
export async function writePng(path: string, width: number, height: number, value: number | ArrayLike<number>, channels: 1 | 3 = 1): Promise<void> {
  ensureParent(path);
  const n = width * height * channels;
  const data = typeof value === 'number' ? Buffer.alloc(n, value) : Buffer.from(Array.from(value));
  if (data.length !== n) throw new Error(`writePng: ${data.length} values for ${width}x${height}x${channels}`);
  await sharp(data, { raw: { width, height, channels } })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .png()
    .toFile(path);
}

/** A file that is not an image at all. */
export function writeGarbage(path: string): void {
  ensureParent(path);
  writeFileSync(path, 'this is not an image\n');
}

export function writeText(path: string, text: string): void {
  ensureParent(path);
  writeFileSync(path, text);
}

/** An xlsx whose first sheet holds `rows` (the first row is the header). */
export async function writeXlsx(path: string, rows: (string | number | null)[][]): Promise<void> {
  ensureParent(path);
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Sheet1');
  for (const r of rows) ws.addRow(r);
  await wb.xlsx.writeFile(path);
}

export const NIFTI_TYPES = { uint8: 2, int16: 4, int32: 8, float32: 16, float64: 64, uint16: 512 } as const;
const BYTES: Record<number, number> = { 2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 512: 2 };

export interface NiftiOptions {
  slope?: number;
  inter?: number;
  littleEndian?: boolean;
  /** pixdim[0..7] (pixdim[0] is qfac); default all 1. */
  pixdim?: number[];
  /** qform_code and quatern_b, c, d, qoffset_x, y, z. */
  qform?: { code: number; b: number; c: number; d: number; x: number; y: number; z: number };
  /** sform_code and srow_x, srow_y, srow_z. */
  sform?: { code: number; rows: [number[], number[], number[]] };
  xyztUnits?: number;
}

/** A NIfTI-1 single file: 348-byte header, 4 zero extension bytes, data from byte 352 (x fastest). */
export function niftiBytes(dims: number[], datatype: number, values: ArrayLike<number>, options: NiftiOptions = {}): Buffer {
  const le = options.littleEndian ?? true;
  const bytes = BYTES[datatype];
  if (!bytes) throw new Error(`niftiBytes: datatype ${datatype} not supported here`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`niftiBytes: ${values.length} values for dims ${dims.join('x')}`);
  const buf = Buffer.alloc(352 + count * bytes);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  dv.setInt32(0, 348, le);
  const dim = [dims.length, ...dims, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  dim.forEach((d, i) => dv.setInt16(40 + 2 * i, d, le));
  dv.setInt16(70, datatype, le);
  dv.setInt16(72, bytes * 8, le);
  (options.pixdim ?? [1, 1, 1, 1, 1, 1, 1, 1]).forEach((p, i) => dv.setFloat32(76 + 4 * i, p, le));
  if (options.xyztUnits !== undefined) dv.setUint8(123, options.xyztUnits);
  if (options.qform) {
    const q = options.qform;
    dv.setInt16(252, q.code, le);
    [q.b, q.c, q.d, q.x, q.y, q.z].forEach((v, i) => dv.setFloat32(256 + 4 * i, v, le));
  }
  if (options.sform) {
    dv.setInt16(254, options.sform.code, le);
    options.sform.rows.flat().forEach((v, i) => dv.setFloat32(280 + 4 * i, v, le));
  }
  dv.setFloat32(108, 352, le);
  dv.setFloat32(112, options.slope ?? 1, le);
  dv.setFloat32(116, options.inter ?? 0, le);
  buf.write('n+1\0', 344, 'latin1');
  for (let i = 0; i < count; i++) {
    const o = 352 + i * bytes;
    const v = values[i];
    switch (datatype) {
      case 2:
        dv.setUint8(o, v);
        break;
      case 4:
        dv.setInt16(o, v, le);
        break;
      case 512:
        dv.setUint16(o, v, le);
        break;
      case 8:
        dv.setInt32(o, v, le);
        break;
      case 16:
        dv.setFloat32(o, v, le);
        break;
      case 64:
        dv.setFloat64(o, v, le);
        break;
    }
  }
  return buf;
}

/** Writes a NIfTI-1 volume; gzip when the path ends in .gz. */
export function writeNifti(path: string, dims: number[], datatype: number, values: ArrayLike<number>, options: NiftiOptions = {}): void {
  ensureParent(path);
  const raw = niftiBytes(dims, datatype, values, options);
  writeFileSync(path, path.endsWith('.gz') ? gzipSync(raw) : raw);
}
