// Creating tensors: from JavaScript data, and PyTorch's factory functions.
import { type AnyTypedArray, type DType, dtypeCode, dtypeOfTypedArray, elementSize } from './dtype.js';
import * as aten from './generated/aten.js';
import { native } from './native.js';
import { type Device, Tensor } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

type Nested = number | boolean | Nested[];

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function flatten(data: Nested, shape: number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new TypeError('tensor(): ragged nested array (deeper than the first element)');
    out.push(typeof data === 'boolean' ? (data ? 1 : 0) : data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new TypeError(`tensor(): ragged nested array: expected length ${shape[depth]} at depth ${depth}`);
  }
  for (const d of data) flatten(d, shape, depth + 1, out);
}

function typedArrayFor(values: number[] | AnyTypedArray, dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values as ArrayLike<number>);
    case 'float64':
      return Float64Array.from(values as ArrayLike<number>);
    case 'int64':
      return values instanceof BigInt64Array ? values : BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(values as ArrayLike<number>);
    case 'int16':
      return Int16Array.from(values as ArrayLike<number>);
    case 'int8':
      return Int8Array.from(values as ArrayLike<number>);
    case 'uint8':
      return Uint8Array.from(values as ArrayLike<number>);
    case 'bool':
      return Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
    case 'float16':
    case 'bfloat16':
      return Float32Array.from(values as ArrayLike<number>);
  }
}

function finish(t: Tensor, options: TensorOptions): Tensor {
  let out = t;
  if (options.device !== undefined && options.device !== 'cpu') {
    out = t.to(options.device);
    t.dispose();
  }
  if (options.requiresGrad) out.requiresGrad_(true);
  return out;
}

/**
 * A tensor from nested arrays or a typed array (copied). Numbers default to float32
 * (JavaScript has no int/float distinction); typed arrays keep their own dtype.
 */
export function tensor(data: Nested | AnyTypedArray, options: TensorOptions & { shape?: number[] } = {}): Tensor {
  let values: number[] | AnyTypedArray;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    values = data;
    shape = options.shape ?? [data.length];
  } else {
    shape = inferShape(data);
    const flat: number[] = [];
    flatten(data, shape, 0, flat);
    values = flat;
    if (options.shape) shape = options.shape;
  }
  const dtype = options.dtype ?? (ArrayBuffer.isView(data) ? dtypeOfTypedArray(data) : 'float32');
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== values.length) {
    throw new RangeError(`tensor(): shape [${shape.join(', ')}] holds ${numel} elements, data has ${values.length}`);
  }
  const half = dtype === 'float16' || dtype === 'bfloat16';
  const view = ArrayBuffer.isView(data) && !half && dtypeOfTypedArray(data) === dtype && dtype !== 'bool' ? data : typedArrayFor(values, dtype);
  let t = new Tensor(native.fromBuffer(view, dtypeCode(half ? 'float32' : dtype), shape));
  if (half) {
    const h = aten.toDtype(t, dtype);
    t.dispose();
    t = h;
  }
  return finish(t, options);
}

/** A tensor over raw little-endian bytes of `dtype` (copied), e.g. from a safetensors file. */
export function fromBytes(bytes: ArrayBufferView, dtype: DType, shape: number[]): Tensor {
  const expected = shape.reduce((a, b) => a * b, 1) * elementSize(dtype);
  if (bytes.byteLength !== expected) {
    throw new RangeError(`fromBytes: shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes, got ${bytes.byteLength}`);
  }
  return new Tensor(native.fromBuffer(bytes, dtypeCode(dtype), shape));
}

export function scalarTensor(value: number, options: TensorOptions = {}): Tensor {
  return tensor(value, options);
}

export function zeros(shape: number[], options: TensorOptions = {}): Tensor {
  return finish(aten.zeros(shape, { dtype: options.dtype ?? 'float32', device: options.device }), { requiresGrad: options.requiresGrad });
}

export function ones(shape: number[], options: TensorOptions = {}): Tensor {
  return finish(aten.ones(shape, { dtype: options.dtype ?? 'float32', device: options.device }), { requiresGrad: options.requiresGrad });
}

export function full(shape: number[], value: number, options: TensorOptions = {}): Tensor {
  return finish(aten.full(shape, value, { dtype: options.dtype ?? 'float32', device: options.device }), { requiresGrad: options.requiresGrad });
}

export function empty(shape: number[], options: TensorOptions = {}): Tensor {
  return finish(aten.empty(shape, { dtype: options.dtype ?? 'float32', device: options.device }), { requiresGrad: options.requiresGrad });
}

/** Standard normal samples; seeded by manualSeed. */
export function randn(shape: number[], options: TensorOptions = {}): Tensor {
  return finish(aten.randn(shape, { dtype: options.dtype ?? 'float32', device: options.device }), { requiresGrad: options.requiresGrad });
}

/** Uniform samples in [0, 1); seeded by manualSeed. */
export function rand(shape: number[], options: TensorOptions = {}): Tensor {
  return finish(aten.rand(shape, { dtype: options.dtype ?? 'float32', device: options.device }), { requiresGrad: options.requiresGrad });
}

/** Integers in [low, high). */
export function randint(low: number, high: number, shape: number[], options: TensorOptions = {}): Tensor {
  return aten.randint(low, high, shape, { dtype: options.dtype ?? 'int64', device: options.device });
}

export function randperm(n: number, options: TensorOptions = {}): Tensor {
  return aten.randperm(n, { dtype: options.dtype ?? 'int64', device: options.device });
}

/** [start, end) by step; integer arguments give int64 as in PyTorch unless dtype says otherwise. */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const integral = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
  return aten.arange(s, e, { step, dtype: options.dtype ?? (integral ? 'int64' : 'float32'), device: options.device });
}

export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  return aten.linspace(start, end, steps, { dtype: options.dtype ?? 'float32', device: options.device });
}

export function eye(n: number, options: TensorOptions = {}): Tensor {
  return aten.eye(n, { dtype: options.dtype ?? 'float32', device: options.device });
}

export function zerosLike(t: Tensor): Tensor {
  return aten.zerosLike(t);
}

export function onesLike(t: Tensor): Tensor {
  return aten.onesLike(t);
}

export function randnLike(t: Tensor): Tensor {
  return aten.randnLike(t);
}

export function fullLike(t: Tensor, value: number): Tensor {
  return aten.fullLike(t, value);
}
