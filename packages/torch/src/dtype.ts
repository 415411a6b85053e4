// Data types by PyTorch's names, mapped to c10::ScalarType codes.

export type DType =
  | 'uint8'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'bool'
  | 'bfloat16';

const CODES: Record<DType, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};

const NAMES = new Map<number, DType>(Object.entries(CODES).map(([name, code]) => [code, name as DType]));

export const DTYPES = Object.keys(CODES) as DType[];

export function dtypeCode(dtype: DType): number {
  const code = CODES[dtype];
  if (code === undefined) {
    throw new TypeError(`unknown dtype '${String(dtype)}': use one of ${DTYPES.join(', ')}`);
  }
  return code;
}

export function dtypeName(code: number): DType {
  const name = NAMES.get(code);
  if (name === undefined) throw new TypeError(`libtorch returned scalar type ${code}, which tgcnet does not map`);
  return name;
}

export function elementSize(dtype: DType): number {
  switch (dtype) {
    case 'uint8':
    case 'int8':
    case 'bool':
      return 1;
    case 'int16':
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'int32':
    case 'float32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
  }
}

export function isFloatingPoint(dtype: DType): boolean {
  return dtype === 'float16' || dtype === 'float32' || dtype === 'float64' || dtype === 'bfloat16';
}

/** The JavaScript array that holds a dtype's values; half types widen to float32. */
export type TypedArrayFor<D extends DType> = D extends 'float64'
  ? Float64Array
  : D extends 'int64'
    ? BigInt64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'int16'
        ? Int16Array
        : D extends 'int8'
          ? Int8Array
          : D extends 'uint8' | 'bool'
            ? Uint8Array
            : Float32Array;

export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array;

export function dtypeOfTypedArray(data: AnyTypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof BigInt64Array) return 'int64';
  throw new TypeError('unsupported typed array');
}
