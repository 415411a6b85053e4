// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes.
// Read tensor by tensor from a file descriptor, so multi-GB files never sit in one buffer;
// written to a temporary file and renamed, so a crash never leaves a half-written checkpoint.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { fromBytes } from '../creation.js';
import type { DType } from '../dtype.js';
import { elementSize } from '../dtype.js';
import type { Tensor } from '../tensor.js';

const FORMAT_DTYPES: Record<string, DType> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_FORMAT = new Map<DType, string>(Object.entries(FORMAT_DTYPES).map(([k, v]) => [v, k]));

/** Largest header accepted (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;
/** Reads larger than this are split; Node buffers and readSync have size limits. */
const READ_CHUNK = 1 << 30;

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: not a valid safetensors file: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

/** An open safetensors file: parse the header once, read any tensor on demand. */
export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  #fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.#fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new Error(`cannot open safetensors file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      const { tensors, metadata } = parseHeader(path, fd);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  /** Reads one tensor (a new CPU tensor the caller owns). */
  get(name: string): Tensor {
    const info = this.tensors.get(name);
    if (info === undefined) throw new Error(`${this.path}: no tensor named '${name}'`);
    if (this.#fd === null) throw new Error(`${this.path}: file is closed`);
    const bytes = Buffer.allocUnsafe(info.end - info.begin);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.#fd, bytes, done, Math.min(READ_CHUNK, bytes.length - done), info.begin + done);
      if (n === 0) throw new SafetensorsError(this.path, `file ends inside tensor '${name}'`);
      done += n;
    }
    return fromBytes(bytes, info.dtype, info.shape);
  }

  close(): void {
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }
}

function parseHeader(path: string, fd: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const size = fstatSync(fd).size;
  if (size < 8) throw new SafetensorsError(path, `file is ${size} bytes, shorter than the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(path, `header length ${headerLen} exceeds ${MAX_HEADER_BYTES} bytes`);
  const n = Number(headerLen);
  if (8 + n > size) throw new SafetensorsError(path, `header of ${n} bytes runs past the end of the ${size}-byte file (truncated?)`);
  const headerBuf = Buffer.alloc(n);
  readSync(fd, headerBuf, 0, n, 8);
  let header: unknown;
  try {
    header = JSON.parse(headerBuf.toString('utf8'));
  } catch (err) {
    throw new SafetensorsError(path, `header is not valid JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(path, 'header is not a JSON object');
  }
  const dataStart = 8 + n;
  const dataSize = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Object.values(raw).some((v) => typeof v !== 'string')) {
        throw new SafetensorsError(path, '__metadata__ must map strings to strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (entry === null || typeof entry !== 'object') throw new SafetensorsError(path, `entry '${name}' is not an object`);
    const dtype = typeof entry.dtype === 'string' ? FORMAT_DTYPES[entry.dtype] : undefined;
    if (dtype === undefined) {
      throw new SafetensorsError(path, `tensor '${name}' has dtype ${JSON.stringify(entry.dtype)}; supported: ${Object.keys(FORMAT_DTYPES).join(', ')}`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new SafetensorsError(path, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0) || offsets[0] > offsets[1]) {
      throw new SafetensorsError(path, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [b, e] = offsets as [number, number];
    if (e > dataSize) {
      throw new SafetensorsError(path, `tensor '${name}' ends at byte ${e} of a ${dataSize}-byte data section (truncated file?)`);
    }
    const expected = (shape as number[]).reduce((x, y) => x * y, 1) * elementSize(dtype);
    if (e - b !== expected) {
      throw new SafetensorsError(path, `tensor '${name}' of ${entry.dtype} [${shape.join(', ')}] needs ${expected} bytes, its offsets span ${e - b}`);
    }
    tensors.set(name, { dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e });
  }
  const ranges = [...tensors.entries()].sort((x, y) => x[1].begin - y[1].begin);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][1].begin < ranges[i - 1][1].end) {
      throw new SafetensorsError(path, `tensors '${ranges[i - 1][0]}' and '${ranges[i][0]}' overlap`);
    }
  }
  return { tensors, metadata };
}

/** Reads every tensor (or those named) into a Map the caller owns. */
export function loadSafetensors(path: string, options: { keys?: string[] } = {}): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  const out = new Map<string, Tensor>();
  try {
    for (const key of options.keys ?? file.keys()) out.set(key, file.get(key));
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  } finally {
    file.close();
  }
  return out;
}

/**
 * Writes tensors (sorted by name) with optional string metadata. Atomic: the bytes go to
 * `<path>.tmp-<pid>`, are fsynced, then renamed over `path`.
 */
export function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const format = DTYPE_FORMAT.get(t.dtype);
    if (format === undefined) throw new TypeError(`saveSafetensors: tensor '${name}' has dtype ${t.dtype}, which safetensors cannot store`);
    const bytes = t.numel() * elementSize(t.dtype);
    header[name] = { dtype: format, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const [, t] of entries) {
      const data = t.toBuffer();
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done, Math.min(READ_CHUNK, data.length - done));
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to remove
    }
    throw err;
  }
}
