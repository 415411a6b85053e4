// The Tensor: a JavaScript handle to an at::Tensor, with PyTorch's method names.
import { type AnyTypedArray, type DType, dtypeCode, dtypeName } from './dtype.js';
import * as aten from './generated/aten.js';
import { native } from './native.js';
import { track } from './scope.js';

/** 'cpu', 'cuda' or 'cuda:N', as in PyTorch. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

const DISPOSED = -1;

export class Tensor {
  /** Lets scope code recognise tensors without importing this class. */
  readonly isTensor = true;
  #id: number;
  #kept = false;
  #shape: readonly number[] | undefined;
  #dtype: DType | undefined;
  #device: Device | undefined;

  /** @internal Use the creation functions (tensor, zeros, ...) instead. */
  constructor(id: number) {
    this.#id = id;
    track(this);
  }

  /** The native handle; throws if the tensor was disposed. */
  get id(): number {
    if (this.#id === DISPOSED) {
      throw new Error(
        'this tensor was disposed (by dispose() or at the end of a tidy() scope); ' +
          'return it from tidy() or keep() it to use it afterwards',
      );
    }
    return this.#id;
  }

  get isDisposed(): boolean {
    return this.#id === DISPOSED;
  }

  get isKept(): boolean {
    return this.#kept;
  }

  /** @internal See keep(). */
  markKept(): void {
    this.#kept = true;
  }

  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    if (this.#id !== DISPOSED) {
      native.dispose(this.#id);
      this.#id = DISPOSED;
    }
  }

  private loadMeta(): void {
    const [shape, dtype, device, _requiresGrad] = native.meta(this.id);
    this.#shape = Object.freeze(shape);
    this.#dtype = dtypeName(dtype);
    this.#device = device as Device;
  }

  get shape(): readonly number[] {
    if (this.#shape === undefined) this.loadMeta();
    return this.#shape!;
  }

  get dtype(): DType {
    if (this.#dtype === undefined) this.loadMeta();
    return this.#dtype!;
  }

  get device(): Device {
    if (this.#device === undefined) this.loadMeta();
    return this.#device!;
  }

  get ndim(): number {
    return this.shape.length;
  }

  dim(): number {
    return this.shape.length;
  }

  size(dim?: number): number {
    if (dim === undefined) return this.numel();
    const d = dim < 0 ? dim + this.ndim : dim;
    if (d < 0 || d >= this.ndim) throw new RangeError(`size(${dim}): tensor has ${this.ndim} dimensions`);
    return this.shape[d];
  }

  numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  // ---- data out ----

  /** The single value of a one-element tensor. */
  item(): number {
    const v = native.item(this.id);
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }

  /** A copy of the elements (row-major) in the typed array of the dtype; half types widen to float32. */
  toArray(): AnyTypedArray {
    const dtype = this.dtype;
    if (dtype === 'float16' || dtype === 'bfloat16') {
      const wide = aten.toDtype(this, 'float32');
      try {
        return wide.toArray();
      } finally {
        wide.dispose();
      }
    }
    const buf = native.toBuffer(this.id);
    const bytes = (buf.buffer as ArrayBuffer).slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    return typedArrayOver(bytes, dtype);
  }

  /** Elements as plain numbers (row-major). */
  toNumbers(): number[] {
    const a = this.toArray();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a);
  }

  /** The raw bytes of the elements (contiguous, CPU). */
  toBuffer(): Buffer {
    return native.toBuffer(this.id);
  }

  /**
   * Zero-copy view of a contiguous CPU tensor's memory, or null where that is not safe
   * (a GPU tensor, a strided view). The view shares memory: in-place ops show through it.
   */
  dataView(): AnyTypedArray | null {
    const buf = native.viewBuffer(this.id);
    return buf === null ? null : typedArrayOver(buf, this.dtype);
  }

  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : native.toString(this.id);
  }

  // ---- autograd ----

  get requiresGrad(): boolean {
    return native.meta(this.id)[3];
  }

  requiresGrad_(value = true): this {
    native.requiresGrad(this.id, value);
    return this;
  }

  /** The accumulated gradient as a new tensor (owned by the current scope), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.id);
    return g === null ? null : new Tensor(g);
  }

  set grad(value: Tensor | null) {
    native.setGrad(this.id, value === null ? null : value.id);
  }

  /** As PyTorch's `t.data = src`: this handle now shares src's data (shape, dtype, device). */
  setData(src: Tensor): void {
    native.setData(this.id, src.id);
    this.#shape = undefined;
    this.#dtype = undefined;
    this.#device = undefined;
  }

  get isLeaf(): boolean {
    return native.isLeaf(this.id);
  }

  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward(this.id, gradient ? gradient.id : null, options.retainGraph ?? false, options.createGraph ?? false);
  }

  detach(): Tensor {
    return aten.detach(this);
  }

  // ---- conversion ----

  to(target: DType | Device): Tensor {
    if (isDevice(target)) return aten.toDevice(this, target, this.dtype);
    return aten.toDtype(this, target);
  }

  float(): Tensor {
    return aten.toDtype(this, 'float32');
  }

  double(): Tensor {
    return aten.toDtype(this, 'float64');
  }

  long(): Tensor {
    return aten.toDtype(this, 'int64');
  }

  int(): Tensor {
    return aten.toDtype(this, 'int32');
  }

  bool(): Tensor {
    return aten.toDtype(this, 'bool');
  }

  half(): Tensor {
    return aten.toDtype(this, 'float16');
  }

  cpu(): Tensor {
    return this.to('cpu');
  }

  cuda(index = 0): Tensor {
    return this.to(`cuda:${index}`);
  }

  /** A copy in page-locked memory, from which a copy to CUDA can run asynchronously (needs a CUDA build). */
  pinMemory(): Tensor {
    return aten.pinMemory(this);
  }

  clone(): Tensor {
    return aten.clone(this);
  }

  contiguous(): Tensor {
    return aten.contiguous(this);
  }

  // ---- arithmetic (other may be a number, as in PyTorch) ----

  add(other: Tensor | number, alpha?: number): Tensor {
    return typeof other === 'number' ? aten.addScalar(this, other, { alpha }) : aten.add(this, other, { alpha });
  }

  sub(other: Tensor | number, alpha?: number): Tensor {
    return typeof other === 'number' ? aten.subScalar(this, other, { alpha }) : aten.sub(this, other, { alpha });
  }

  mul(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.mulScalar(this, other) : aten.mul(this, other);
  }

  div(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.divScalar(this, other) : aten.div(this, other);
  }

  pow(exponent: Tensor | number): Tensor {
    return typeof exponent === 'number' ? aten.pow(this, exponent) : aten.powTensor(this, exponent);
  }

  neg(): Tensor {
    return aten.neg(this);
  }

  abs(): Tensor {
    return aten.abs(this);
  }

  sqrt(): Tensor {
    return aten.sqrt(this);
  }

  rsqrt(): Tensor {
    return aten.rsqrt(this);
  }

  exp(): Tensor {
    return aten.exp(this);
  }

  log(): Tensor {
    return aten.log(this);
  }

  tanh(): Tensor {
    return aten.tanh(this);
  }

  sigmoid(): Tensor {
    return aten.sigmoid(this);
  }

  relu(): Tensor {
    return aten.relu(this);
  }

  floor(): Tensor {
    return aten.floor(this);
  }

  ceil(): Tensor {
    return aten.ceil(this);
  }

  round(): Tensor {
    return aten.round(this);
  }

  sin(): Tensor {
    return aten.sin(this);
  }

  cos(): Tensor {
    return aten.cos(this);
  }

  square(): Tensor {
    return aten.mul(this, this);
  }

  logicalNot(): Tensor {
    return aten.logicalNot(this);
  }

  logicalAnd(other: Tensor): Tensor {
    return aten.logicalAnd(this, other);
  }

  logicalOr(other: Tensor): Tensor {
    return aten.logicalOr(this, other);
  }

  /** True if any element is non-zero (a bool scalar tensor). */
  any(): Tensor {
    return aten.anyAll(this);
  }

  all(): Tensor {
    return aten.allAll(this);
  }

  clamp(min: number | null, max: number | null = null): Tensor {
    return aten.clamp(this, { min, max });
  }

  matmul(other: Tensor): Tensor {
    return aten.matmul(this, other);
  }

  // ---- comparison ----

  eq(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.eqScalar(this, other) : aten.eq(this, other);
  }

  ne(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.neScalar(this, other) : aten.ne(this, other);
  }

  gt(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.gtScalar(this, other) : aten.gt(this, other);
  }

  lt(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.ltScalar(this, other) : aten.lt(this, other);
  }

  ge(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.geScalar(this, other) : aten.ge(this, other);
  }

  le(other: Tensor | number): Tensor {
    return typeof other === 'number' ? aten.leScalar(this, other) : aten.le(this, other);
  }

  // ---- reductions ----

  sum(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? aten.sumAll(this) : aten.sum(this, toDims(dim), { keepdim });
  }

  mean(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? aten.meanAll(this) : aten.mean(this, toDims(dim), { keepdim });
  }

  /** max over all elements; with a dim, see maxDim. */
  max(): Tensor {
    return aten.maxAll(this);
  }

  min(): Tensor {
    return aten.minAll(this);
  }

  /** [values, indices] along `dim`. */
  maxDim(dim: number, keepdim = false): [Tensor, Tensor] {
    return aten.max(this, dim, { keepdim });
  }

  argmax(dim?: number, keepdim = false): Tensor {
    return aten.argmax(this, { dim: dim ?? null, keepdim });
  }

  // ---- shape ----

  reshape(...shape: number[]): Tensor {
    return aten.reshape(this, shape);
  }

  view(...shape: number[]): Tensor {
    return aten.view(this, shape);
  }

  permute(...dims: number[]): Tensor {
    return aten.permute(this, dims);
  }

  transpose(dim0: number, dim1: number): Tensor {
    return aten.transpose(this, dim0, dim1);
  }

  t(): Tensor {
    return aten.t(this);
  }

  flatten(startDim = 0, endDim = -1): Tensor {
    return aten.flatten(this, { startDim, endDim });
  }

  unsqueeze(dim: number): Tensor {
    return aten.unsqueeze(this, dim);
  }

  squeeze(dim?: number): Tensor {
    return dim === undefined ? aten.squeeze(this) : aten.squeezeDim(this, dim);
  }

  expand(...shape: number[]): Tensor {
    return aten.expand(this, shape);
  }

  narrow(dim: number, start: number, length: number): Tensor {
    return aten.narrow(this, dim, start, length);
  }

  select(dim: number, index: number): Tensor {
    return aten.select(this, dim, index);
  }

  /** PyTorch's x[..., start:end:step] along one dim. */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return aten.slice(this, { dim, start, end, step });
  }

  chunk(chunks: number, dim = 0): Tensor[] {
    return aten.chunk(this, chunks, { dim });
  }

  split(splitSize: number | number[], dim = 0): Tensor[] {
    return typeof splitSize === 'number'
      ? aten.split(this, splitSize, { dim })
      : aten.splitWithSizes(this, splitSize, { dim });
  }

  /** Advanced indexing, PyTorch's x[idx0, idx1, ...] with index tensors; null skips a dim. */
  index(indices: (Tensor | null)[]): Tensor {
    return aten.index(this, indices);
  }

  // ---- in place (return this) ----

  add_(other: Tensor | number, alpha?: number): this {
    if (typeof other === 'number') aten.addScalar_(this, other, { alpha });
    else aten.add_(this, other, { alpha });
    return this;
  }

  sub_(other: Tensor, alpha?: number): this {
    aten.sub_(this, other, { alpha });
    return this;
  }

  mul_(other: Tensor | number): this {
    if (typeof other === 'number') aten.mulScalar_(this, other);
    else aten.mul_(this, other);
    return this;
  }

  div_(other: Tensor | number): this {
    if (typeof other === 'number') aten.divScalar_(this, other);
    else aten.div_(this, other);
    return this;
  }

  copy_(src: Tensor): this {
    aten.copy_(this, src);
    return this;
  }

  zero_(): this {
    aten.zero_(this);
    return this;
  }

  fill_(value: number): this {
    aten.fill_(this, value);
    return this;
  }
}

function isDevice(target: string): target is Device {
  return target === 'cpu' || target === 'cuda' || target.startsWith('cuda:');
}

function toDims(dim: number | number[]): number[] {
  return typeof dim === 'number' ? [dim] : dim;
}

function typedArrayOver(buffer: ArrayBuffer, dtype: DType): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer);
    case 'float16':
    case 'bfloat16':
      // Raw 16-bit patterns; toArray() widens these to float32 instead.
      return new Uint8Array(buffer);
  }
}

// ---- helpers used by the generated operator wrappers ----

/** @internal */
export function wrap(id: unknown): Tensor {
  // An undefined at::Tensor comes back as null; a Tensor without a handle would fail later, far away.
  if (typeof id !== 'number') throw new TypeError(`an operator returned an undefined tensor where a tensor was expected (got ${String(id)})`);
  return new Tensor(id as number);
}

/** @internal */
export function optId(t: Tensor | null | undefined): number | null | undefined {
  return t === undefined ? undefined : t === null ? null : t.id;
}

/** @internal */
export function ids(ts: readonly Tensor[]): number[] {
  return ts.map((t) => t.id);
}

/** @internal */
export function optIds(ts: readonly (Tensor | null)[]): (number | null)[] {
  return ts.map((t) => (t === null ? null : t.id));
}

/** @internal */
export function optDtype(d: DType | null | undefined): number | null | undefined {
  return d === undefined ? undefined : d === null ? null : dtypeCode(d);
}
