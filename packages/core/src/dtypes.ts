/** Element types of shelved arrays: names, aliases and typed-array classes. */

/** The dtypes of {@link ndarray}. `int64`/`uint64` are stored as `BigInt64Array`/`BigUint64Array` (values are `bigint`). */
export type DType =
  | 'int8' | 'int16' | 'int32' | 'int64'
  | 'uint8' | 'uint8_clamped' | 'uint16' | 'uint32' | 'uint64'
  | 'float32' | 'float64';

/** Every typed array a shelf stores. */
export type TypedArray =
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint8ClampedArray | Uint16Array | Uint32Array | BigUint64Array
  | Float32Array | Float64Array;

/** A typed-array class. */
export interface TypedArrayConstructor {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

/** dtype -> typed-array class. */
export const DTYPE_CTORS: Readonly<Record<DType, TypedArrayConstructor>> = Object.freeze({
  int8: Int8Array as unknown as TypedArrayConstructor,
  int16: Int16Array as unknown as TypedArrayConstructor,
  int32: Int32Array as unknown as TypedArrayConstructor,
  int64: BigInt64Array as unknown as TypedArrayConstructor,
  uint8: Uint8Array as unknown as TypedArrayConstructor,
  uint8_clamped: Uint8ClampedArray as unknown as TypedArrayConstructor,
  uint16: Uint16Array as unknown as TypedArrayConstructor,
  uint32: Uint32Array as unknown as TypedArrayConstructor,
  uint64: BigUint64Array as unknown as TypedArrayConstructor,
  float32: Float32Array as unknown as TypedArrayConstructor,
  float64: Float64Array as unknown as TypedArrayConstructor,
});

/** All dtype names, in declaration order. */
export const DTYPES = Object.freeze(Object.keys(DTYPE_CTORS) as DType[]);

/** Aliases accepted wherever a dtype is: scijs-ndarray names and NumPy spellings. */
const ALIASES: Readonly<Record<string, DType>> = {
  bigint64: 'int64', biguint64: 'uint64', buffer: 'uint8', uint8clamped: 'uint8_clamped',
  float: 'float64', double: 'float64', int: 'int32', byte: 'int8', ubyte: 'uint8',
};

/** True when `d` is a dtype name (not an alias). */
export function isDType(d: unknown): d is DType {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_CTORS, d);
}

/** The dtype named by `d` or one of its aliases; TypeError for anything else. */
export function normalizeDType(d: unknown): DType {
  if (isDType(d)) return d;
  if (typeof d === 'string' && Object.prototype.hasOwnProperty.call(ALIASES, d)) return ALIASES[d];
  throw new TypeError(`Unknown dtype ${JSON.stringify(d)} (expected one of: ${DTYPES.join(', ')})`);
}

/** The dtype of a typed array of one of the eleven classes, or `undefined`. */
export function dtypeOfTypedArray(v: unknown): DType | undefined {
  if (!ArrayBuffer.isView(v) || v instanceof DataView) return undefined;
  for (const d of DTYPES) if (Object.getPrototypeOf(v) === DTYPE_CTORS[d].prototype) return d;
  if (v instanceof Uint8Array) return 'uint8'; // Buffer and other Uint8Array subclasses
  return undefined;
}

/** True for dtypes whose values are `bigint`. */
export function isBigDType(d: DType): boolean {
  return d === 'int64' || d === 'uint64';
}
