/**
 * Arrays larger than one 4 GiB view.
 *
 * Node 20 caps one ArrayBuffer at 4 GiB, so the `.data` of a shelved array beyond that size is a {@link ChunkedData}: an
 * object with `get(i)`, `set(i, v)` and `length`, which scijs `ndarray` and `ndarray-ops` accept as "generic" data, over
 * windows of at most 4 GiB. `chunks()` returns the windows themselves (typed arrays, zero copy) so that bulk work can run at
 * full speed one window at a time. Window `k` holds elements `[k * perChunk, (k + 1) * perChunk)`.
 *
 * Limits of the scijs libraries at this size: `ndarray-ops` (cwise) truncates offsets and loop bounds to 32 bits, so run
 * ops per window (`ops.assigns(ndarray(chunk), v)` for each of `a.chunks()`) rather than on the whole array; `lo`, `hi`,
 * `step`, `pick` and `transpose` of a shelved chunked array keep exact offsets (core corrects scijs' 32-bit offsets).
 *
 * Lifetime: the windows are views of shelf memory, valid until the shelf is closed (then detached, length 0).
 */
import type { DType, TypedArray, TypedArrayConstructor } from './dtypes';
import { DTYPE_CTORS } from './dtypes';

/** Element type of a dtype: `bigint` for int64/uint64, else `number`. */
export type ElementOf<D extends DType> = D extends 'int64' | 'uint64' ? bigint : number;

/** `.data` of a chunked array: element access across 4 GiB windows. */
export class ChunkedData<V extends number | bigint = number | bigint> {
  /** Number of elements. */
  readonly length: number;
  /** Element type. */
  readonly dtype: DType;
  readonly BYTES_PER_ELEMENT: number;
  /** Elements per window (every window but the last holds exactly this many). */
  readonly perChunk: number;
  private readonly wins: TypedArray[];

  /** Wrap `windows` (byte views, each a multiple of the element size, all but the last of the same length). */
  constructor(dtype: DType, windows: Uint8Array[]) {
    const Ctor: TypedArrayConstructor = DTYPE_CTORS[dtype];
    const bpe = Ctor.BYTES_PER_ELEMENT;
    this.dtype = dtype;
    this.BYTES_PER_ELEMENT = bpe;
    this.wins = windows.map((w) => new Ctor(w.buffer, w.byteOffset, w.byteLength / bpe));
    this.perChunk = this.wins.length > 0 ? this.wins[0].length : 0;
    this.length = this.wins.reduce((n, w) => n + w.length, 0);
    Object.defineProperty(this, 'wins', { enumerable: false });
  }

  /** Element `i` (0 ≤ i < length). Out of range: `undefined`, as for a typed array. */
  get(i: number): V {
    const k = Math.floor(i / this.perChunk);
    const w = this.wins[k];
    return (w === undefined ? undefined : w[i - k * this.perChunk]) as V;
  }

  /** Store `v` at element `i`. Out of range: ignored, as for a typed array. */
  set(i: number, v: V): void {
    const k = Math.floor(i / this.perChunk);
    const w = this.wins[k];
    if (w !== undefined) (w as unknown as V[])[i - k * this.perChunk] = v;
  }

  /** The windows, in order: typed arrays of this dtype viewing shelf memory (at most 4 GiB each). */
  chunks(): TypedArray[] {
    return this.wins.slice();
  }
}
