/**
 * The ndarray codec (kind `ndarray`): {@link ndarray} declarations and scijs `ndarray` values.
 *
 * A shelved array is a real scijs `ndarray` whose `.data` is a typed array viewing shelf memory (or, beyond 4 GiB, a
 * {@link ChunkedData}), with `persist()`, `persistOffset(offset, length)` and `chunks()` added as non-enumerable methods.
 * Header: `{dtype, shape, stride, order}`; the extent holds `size` elements, densely, in the layout `stride` describes.
 */
import scijs = require('ndarray');
import ops = require('ndarray-ops');
import * as util from 'node:util';
import { MAX_VIEW_BYTES, ShelfError } from '@tsmm/native';
import { ChunkedData, type ElementOf } from '../chunked';
import { DTYPE_CTORS, DTYPES, isDType, normalizeDType, type DType, type TypedArray } from '../dtypes';
import { formatNdarray } from '../inspect';
import { PoolRegion, zeroRegion, type ShelfRegion } from '../region';
import type { ShelfCodec } from './registry';

/** Memory order of a new array: `'C'` (row-major, last index fastest) or `'F'` (column-major). */
export type Order = 'C' | 'F';

/** Typed `.data` of a shelved array of dtype `D` (up to 4 GiB). */
export type DataOf<D extends DType> = {
  int8: Int8Array; int16: Int16Array; int32: Int32Array; int64: BigInt64Array;
  uint8: Uint8Array; uint8_clamped: Uint8ClampedArray; uint16: Uint16Array; uint32: Uint32Array; uint64: BigUint64Array;
  float32: Float32Array; float64: Float64Array;
}[D];

/** The methods a shelf adds to the arrays it hands out. */
export interface ShelvedArrayMethods {
  /** Make the whole array durable (flush its extent). */
  persist(): void;
  /** Make `length` elements from element `offset` of `.data` durable. RangeError outside the array. */
  persistOffset(offset: number, length: number): void;
  /** The 4 GiB windows of `.data` (one typed array for arrays up to 4 GiB; zero copy). */
  chunks(): TypedArray[];
  /**
   * A paging hint for `length` elements from element `offset` (default: the whole array). `'dontneed'` drops those
   * pages from this process's memory — the values stay on the shelf and come back on the next access — so a pass
   * over an array larger than RAM can release each window once it is done with it. Also `'willneed'`,
   * `'sequential'`, `'random'`, `'normal'`.
   */
  advise(advice: 'dontneed' | 'willneed' | 'sequential' | 'random' | 'normal', offset?: number, length?: number): void;
}

/**
 * A scijs `ndarray` living on a shelf. `.data` views shelf memory directly: in-place changes (`set`, `ndarray-ops`,
 * `fs.readSync(fd, a.data)`) change the shelf; call `persist()` to make them durable.
 *
 * Lifetime: valid until the shelf is closed, then `.data` is detached (length 0). Erasing or replacing the variable does
 * not invalidate it: its memory stays reserved until the array is garbage-collected. Copy it (`a.data.slice()`) to keep the
 * values past `close()`.
 */
export type ShelvedNdArray<D extends DType = DType> =
  scijs.NdArray<any> & { data: DataOf<D> | ChunkedData<ElementOf<D>> } & ShelvedArrayMethods;

/** A declaration of an array to create on a shelf: `s.x = ndarray([1000, 1000], 'int64')`. Holds no memory. */
export class NdArraySpec<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly dtype: D;
  readonly order: Order;
  constructor(shape: readonly number[], dtype: D, order: Order) {
    this.shape = Object.freeze(shape.slice());
    this.dtype = dtype;
    this.order = order;
    Object.freeze(this);
  }
  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** Bytes the array takes on the shelf. */
  get nbytes(): number {
    return this.size * DTYPE_CTORS[this.dtype].BYTES_PER_ELEMENT;
  }
}

function checkShape(shape: unknown, what: string): number[] {
  const arr = typeof shape === 'number' ? [shape] : shape;
  if (!Array.isArray(arr)) throw new TypeError(`Expected ${what} to be an array of non-negative integers`);
  let size = 1;
  for (const n of arr) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new TypeError(`Expected ${what} to be an array of non-negative integers, got ${JSON.stringify(arr)}`);
    }
    size *= n;
  }
  if (!Number.isSafeInteger(size * 8)) throw new RangeError(`The ${what} ${JSON.stringify(arr)} is too large`);
  return arr.slice() as number[];
}

/**
 * Declare an array to create on a shelf, as `numpy.ndarray(shape, dtype)` in PyMM: assigning it to a shelf variable
 * allocates it there, zero-filled and usable in place.
 *
 * @param shape  dimensions (a number for 1-d)
 * @param dtype  element type, default `'float64'` (`int64`/`uint64` hold `bigint`s)
 * @param options.order  `'C'` (default, row-major) or `'F'` (column-major)
 * @example s.x = ndarray([1000, 1000], 'int64'); s.x.set(1, 1, 9n);
 */
export function ndarray<D extends DType = 'float64'>(shape: number | readonly number[], dtype?: D, options: { order?: Order } = {}): NdArraySpec<D> {
  const sh = checkShape(shape, 'the shape');
  const dt = normalizeDType(dtype ?? 'float64') as D;
  if (options === null || typeof options !== 'object') throw new TypeError('Expected the options to be an object');
  for (const k of Object.keys(options)) if (k !== 'order') throw new TypeError(`Unknown option "${k}" (expected: order)`);
  const order = options.order ?? 'C';
  if (order !== 'C' && order !== 'F') throw new TypeError(`Expected the "order" option to be "C" or "F", got ${JSON.stringify(order)}`);
  return new NdArraySpec(sh, dt, order);
}

/** True for scijs ndarray objects (anything with data/shape/stride/offset/get/set). */
export function isNdarray(v: unknown): v is scijs.NdArray<any> {
  if (v === null || typeof v !== 'object') return false;
  const a = v as Partial<scijs.NdArray<any>>;
  return Array.isArray(a.shape) && Array.isArray(a.stride) && typeof a.offset === 'number' && a.data != null &&
    typeof a.get === 'function' && typeof a.set === 'function';
}

/** Row-major (C) or column-major (F) strides of `shape`. */
export function stridesOf(shape: readonly number[], order: Order): number[] {
  const st = new Array<number>(shape.length);
  let sz = 1;
  if (order === 'C') {
    for (let i = shape.length - 1; i >= 0; i--) { st[i] = sz; sz *= shape[i]; }
  } else {
    for (let i = 0; i < shape.length; i++) { st[i] = sz; sz *= shape[i]; }
  }
  return st;
}

function sameStrides(shape: readonly number[], a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < shape.length; i++) if (shape[i] > 1 && a[i] !== b[i]) return false;
  return true;
}

/** The dense layout of `arr` (strides of a gap-free block starting at `arr.offset`), or null. */
function denseStrides(arr: scijs.NdArray<any>): { stride: number[]; order: Order | 'K' } | null {
  const { shape, stride } = arr;
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === 0) return null;
  const dims = shape.map((_, i) => i).filter((i) => shape[i] > 1).sort((a, b) => stride[a] - stride[b]);
  let expect = 1;
  for (const d of dims) {
    if (stride[d] !== expect) return null;
    expect *= shape[d];
  }
  const c = stridesOf(shape, 'C');
  if (sameStrides(shape, stride, c)) return { stride: c, order: 'C' };
  const f = stridesOf(shape, 'F');
  if (sameStrides(shape, stride, f)) return { stride: f, order: 'F' };
  return { stride: shape.map((n, i) => (n > 1 ? stride[i] : 1)), order: 'K' };
}

/** dtype of the elements of a scijs ndarray. */
function dtypeOfNdarray(arr: scijs.NdArray<any>): DType {
  const d = arr.dtype as string;
  if (isDType(d)) return d;
  if (d === 'bigint64') return 'int64';
  if (d === 'biguint64') return 'uint64';
  if (d === 'buffer') return 'uint8';
  const data = arr.data as unknown as { dtype?: unknown };
  if (data instanceof ChunkedData) return data.dtype;
  if (isDType(data.dtype)) return data.dtype;
  // 'array' / 'generic' / 'float16': look at one element
  const size = arr.shape.reduce((a, b) => a * b, 1);
  if (size > 0) {
    const first: unknown = arr.get(...arr.shape.map(() => 0));
    if (typeof first === 'bigint') return 'int64';
  }
  return 'float64';
}

/** Copy `length` bytes of `src` into the windows of `region`, starting at byte `at` of the region. */
function copyInto(region: ShelfRegion, src: Uint8Array, at: number): void {
  if (region instanceof PoolRegion) {
    region.writeAt(at, src);
    return;
  }
  let pos = 0; // byte position in region of current window start
  for (const w of region.windows()) {
    const wEnd = pos + w.byteLength;
    const from = Math.max(at, pos);
    const to = Math.min(at + src.byteLength, wEnd);
    if (from < to) w.set(src.subarray(from - at, to - at), from - pos);
    pos = wEnd;
    if (pos >= at + src.byteLength) break;
  }
}

type NdHeader = { dtype: DType; shape: number[]; stride: number[]; order: Order | 'K' };

function planOf(value: NdArraySpec | scijs.NdArray<any>): { byteLength: number; header: NdHeader } {
  if (value instanceof NdArraySpec) {
    const shape = value.shape.slice();
    return { byteLength: value.nbytes, header: { dtype: value.dtype, shape, stride: stridesOf(shape, value.order), order: value.order } };
  }
  const dtype = dtypeOfNdarray(value);
  const shape = checkShape(value.shape, 'the ndarray shape');
  const dense = denseStrides(value);
  const layout = dense ?? { stride: stridesOf(shape, 'C'), order: 'C' as const };
  const size = shape.reduce((a, b) => a * b, 1);
  return { byteLength: size * DTYPE_CTORS[dtype].BYTES_PER_ELEMENT, header: { dtype, shape, stride: layout.stride, order: layout.order } };
}

function checkHeader(h: Record<string, unknown>, byteLength: number): NdHeader {
  const { dtype, shape, stride, order } = h as Partial<NdHeader>;
  const ok = isDType(dtype) && Array.isArray(shape) && Array.isArray(stride) && shape.length === stride.length &&
    shape.every((n) => Number.isSafeInteger(n) && n >= 0) && stride.every((n) => Number.isSafeInteger(n) && n > 0);
  if (!ok) throw new ShelfError('ESHELF_CORRUPT', `ndarray header is malformed: ${JSON.stringify(h)}`);
  const size = shape.reduce((a, b) => a * b, 1);
  const bpe = DTYPE_CTORS[dtype].BYTES_PER_ELEMENT;
  if (size * bpe !== byteLength) {
    throw new ShelfError('ESHELF_CORRUPT', `ndarray header says ${size} ${dtype} elements (${size * bpe} bytes) but the extent is ${byteLength} bytes`);
  }
  if (size > 0) {
    let last = 0;
    for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
    if (last >= size) throw new ShelfError('ESHELF_CORRUPT', `ndarray stride ${JSON.stringify(stride)} reaches outside ${size} elements`);
  }
  return { dtype, shape, stride, order: order === 'F' || order === 'K' ? order : 'C' };
}

type AnyNd = scijs.NdArray<any>;

/**
 * scijs `ndarray` keeps `offset` as a 32-bit integer (`d|0`), so a view made with lo/pick/step of an array larger than
 * 2^31 elements would point at the wrong element. For chunked arrays, recompute the offset of every derived view exactly
 * (get/set index with `offset + Σ stride·i` in doubles, which is exact up to 2^53).
 */
function exactOffsets(arr: AnyNd): AnyNd {
  const proto = Object.getPrototypeOf(arr) as Record<string, (...a: unknown[]) => AnyNd>;
  const fix = (r: AnyNd, offset: number): AnyNd => {
    (r as { offset: number }).offset = offset;
    return exactOffsets(r);
  };
  const along = (self: AnyNd, idx: unknown[], pick: (i: number, k: number) => boolean, f: (i: number, k: number) => number): number => {
    let off = self.offset;
    for (let k = 0; k < self.shape.length; k++) {
      const i = idx[k];
      if (typeof i === 'number' && pick(i, k)) off += f(i, k);
    }
    return off;
  };
  const methods: Record<string, (this: AnyNd, ...idx: unknown[]) => AnyNd> = {
    lo(...idx) { return fix(proto.lo.apply(this, idx), along(this, idx, (i) => i >= 0, (i, k) => this.stride[k] * Math.trunc(i))); },
    pick(...idx) { return fix(proto.pick.apply(this, idx), along(this, idx, (i) => i >= 0, (i, k) => this.stride[k] * Math.trunc(i))); },
    step(...idx) { return fix(proto.step.apply(this, idx), along(this, idx, (i) => Math.trunc(i) < 0, (_i, k) => this.stride[k] * (this.shape[k] - 1))); },
    hi(...idx) { return fix(proto.hi.apply(this, idx), this.offset); },
    transpose(...idx) { return fix(proto.transpose.apply(this, idx), this.offset); },
  };
  for (const [k, f] of Object.entries(methods)) {
    if (typeof proto[k] === 'function') Object.defineProperty(arr, k, { value: f, enumerable: false, configurable: true, writable: true });
  }
  return arr;
}

/** The shelved ndarray over `region`, described by `h`. */
function arrayOver(h: NdHeader, region: ShelfRegion): ShelvedNdArray {
  const Ctor = DTYPE_CTORS[h.dtype];
  const bpe = Ctor.BYTES_PER_ELEMENT;
  let data: TypedArray | ChunkedData;
  if (region.byteLength === 0) data = new Ctor(0);
  else if (region.byteLength <= MAX_VIEW_BYTES) {
    const b = region.bytes();
    data = new Ctor(b.buffer, b.byteOffset, b.byteLength / bpe);
  } else data = new ChunkedData(h.dtype, region.windows());
  const arr = scijs(data as any, h.shape.slice(), h.stride.slice(), 0) as ShelvedNdArray;
  if (data instanceof ChunkedData) exactOffsets(arr);
  const total = region.byteLength / bpe;
  Object.defineProperties(arr, {
    persist: { value: () => region.persist(), enumerable: false, configurable: true, writable: true },
    persistOffset: {
      value: (offset: number, length: number) => {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > total) {
          throw new RangeError(`persistOffset(${String(offset)}, ${String(length)}) lies outside the ${total} elements of the array`);
        }
        region.persist(offset * bpe, length * bpe);
      },
      enumerable: false, configurable: true, writable: true,
    },
    advise: {
      value: (advice: string, offset = 0, length = total - offset) => {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > total) {
          throw new RangeError(`advise(${JSON.stringify(advice)}, ${String(offset)}, ${String(length)}) lies outside the ${total} elements of the array`);
        }
        if (!(region instanceof PoolRegion)) return;
        region.advise(advice, offset * bpe, length * bpe);
      },
      enumerable: false, configurable: true, writable: true,
    },
    chunks: {
      value: () => (data instanceof ChunkedData ? data.chunks() : [data]),
      enumerable: false, configurable: true, writable: true,
    },
    [util.inspect.custom]: {
      value: (depth: number, opts: util.InspectOptionsStylized) => formatNdarray(arr, 'shelved_ndarray', opts),
      enumerable: false, configurable: true, writable: true,
    },
  });
  return arr;
}

/** The built-in codec for {@link NdArraySpec} declarations and scijs ndarrays (copied onto the shelf). */
export const ndarrayCodec: ShelfCodec<NdArraySpec | scijs.NdArray<any>> = {
  kind: 'ndarray',
  test: (v) => v instanceof NdArraySpec || isNdarray(v),
  plan: (v) => planOf(v),
  write(value, dest, header) {
    this.writeRegion!(value, {
      offset: 0, byteLength: dest.byteLength, bytes: () => dest, windows: () => [dest], persist: () => undefined,
    }, header);
  },
  writeRegion(value, region, header) {
    const h = header as unknown as NdHeader;
    if (value instanceof NdArraySpec) {
      zeroRegion(region);
      return;
    }
    const dense = denseStrides(value);
    const bpe = DTYPE_CTORS[h.dtype].BYTES_PER_ELEMENT;
    const data: unknown = value.data;
    const sameType = ArrayBuffer.isView(data) && (data as TypedArray).BYTES_PER_ELEMENT === bpe &&
      (DTYPE_CTORS[h.dtype] === Object.getPrototypeOf(data).constructor || (h.dtype === 'uint8' && data instanceof Uint8Array));
    if (dense !== null && sameType) {
      const ta = data as TypedArray;
      const size = h.shape.reduce((a, b) => a * b, 1);
      copyInto(region, new Uint8Array(ta.buffer, ta.byteOffset + value.offset * bpe, size * bpe), 0);
      return;
    }
    if (dense !== null && data instanceof ChunkedData && data.dtype === h.dtype) {
      const size = h.shape.reduce((a, b) => a * b, 1);
      let skip = value.offset; // elements to skip at the start of the source
      let at = 0;
      for (const c of data.chunks()) {
        if (at >= size * bpe) break;
        if (skip >= c.length) { skip -= c.length; continue; }
        const n = Math.min(c.length - skip, size - at / bpe);
        copyInto(region, new Uint8Array(c.buffer, c.byteOffset + skip * bpe, n * bpe), at);
        at += n * bpe;
        skip = 0;
      }
      return;
    }
    const dest = arrayOver(h, region);
    if (dest.shape.reduce((a: number, b: number) => a * b, 1) > 0) ops.assign(dest, value);
  },
  read: (header, region) => arrayOver(checkHeader(header, region.byteLength), region),
};

export { DTYPES };
