/**
 * What the 'shelf' backend stores per dataId, where the bytes live, and who keeps them alive.
 *
 * An entry's `values` are in one of three places (`residence`):
 *   - 'dram'    an ordinary JS typed array (what 'cpu' does);
 *   - 'pool'    a view on the backend's own volatile pool (placement 'all'), released when tfjs disposes it;
 *   - 'adopted' memory handed to {@link ShelfBackend.adopt}: a zero-copy view on an extent of a shelf (or any
 *               memory whose lifetime a {@link StorageOwner} controls). The backend never frees it; the owner
 *               is told through {@link evictOwner} when the memory is about to go away.
 *
 * Guarded arrays. tfjs-backend-cpu kernels sometimes return their input's values, or a subarray of them, as
 * their output (slice, string split, gather on strings). For DRAM that is harmless; for shelf or pool memory
 * it would let the output outlive its memory, or change when a persistent variable is written in place. So
 * every array holding adopted, pool or in-place-written data is a *guarded* array: an instance of a
 * subclass of its typed-array class (GuardedFloat32Array...). `subarray()` and friends create instances of
 * the same subclass (TypedArray species), so an alias is recognised by its class alone, and the backend
 * copies any kernel output that is guarded. (Checking `.buffer` against a set instead would be wrong for
 * nothing but cost a lot: reading `.buffer` of a small typed array makes V8 move it off the heap; it was
 * 20% of the time of scalar ops.)
 */
import type { BackendValues, DataType, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Whoever controls the lifetime of adopted memory (one per shelf for the tensor codec and persistent
 * variables). Any object will do; `label` names it in error messages (e.g. the shelf's path).
 */
export interface StorageOwner {
  readonly label: string;
  /**
   * The memory is mapped read-only (a shelf opened with `readOnly`): a store into it would fault, so the
   * backend refuses writeInPlace on it (ESHELF_READONLY). Kernels never write their inputs.
   */
  readonly readOnly?: boolean;
}

export type Residence = 'dram' | 'pool' | 'adopted';

/** One dataId's data. `values`, `dtype`, `refCount`, `complexTensorInfos` are what tfjs-backend-cpu kernels read. */
export interface ShelfTensorData {
  values?: BackendValues;
  dtype: DataType;
  complexTensorInfos?: { real: TensorInfo; imag: TensorInfo };
  refCount: number;
  residence: Residence;
  /** residence 'pool': the allocation to release. */
  poolOffset?: number;
  /** residence 'adopted': who keeps the memory alive. */
  owner?: StorageOwner;
}

const GUARDED = Symbol('tsmm.guarded');

/** Same memory, same element type: a Float32Array whose aliases are recognisable. */
export class GuardedFloat32Array extends Float32Array {}
export class GuardedInt32Array extends Int32Array {}
export class GuardedUint8Array extends Uint8Array {}
for (const C of [GuardedFloat32Array, GuardedInt32Array, GuardedUint8Array]) {
  Object.defineProperty(C.prototype, GUARDED, { value: true });
}

type Plain = Float32Array | Int32Array | Uint8Array;
type ViewCtor = { new (b: ArrayBufferLike, o: number, n: number): Plain; new (n: number | ArrayLike<number>): Plain };

function guardedClassOf(v: ArrayBufferView): ViewCtor {
  if (v instanceof Float32Array) return GuardedFloat32Array as unknown as ViewCtor;
  if (v instanceof Int32Array) return GuardedInt32Array as unknown as ViewCtor;
  if (v instanceof Uint8Array) return GuardedUint8Array as unknown as ViewCtor;
  throw new TypeError(`Expected a Float32Array, Int32Array or Uint8Array, got ${v.constructor.name}`);
}

function plainClassOf(v: ArrayBufferView): ViewCtor {
  if (v instanceof Float32Array) return Float32Array as unknown as ViewCtor;
  if (v instanceof Int32Array) return Int32Array as unknown as ViewCtor;
  if (v instanceof Uint8Array) return Uint8Array as unknown as ViewCtor;
  return (v as unknown as { constructor: ViewCtor }).constructor;
}

function isGuardedArray(v: unknown): boolean {
  return v != null && (v as Record<symbol, unknown>)[GUARDED] === true;
}

/** True when `values` (or, for strings, any of its byte arrays) is guarded memory. */
export function isGuarded(values: BackendValues | undefined): boolean {
  if (values == null) return false;
  if (Array.isArray(values)) {
    for (const v of values) if (isGuardedArray(v)) return true;
    return false;
  }
  return isGuardedArray(values);
}

/** A guarded view of the SAME memory as `values` (no copy). */
export function guardedView<T extends BackendValues>(values: T): T {
  if (Array.isArray(values)) return values.map(v => guardedView(v)) as T;
  const v = values as unknown as Plain;
  if (isGuardedArray(v)) return values;
  const G = guardedClassOf(v);
  return new G(v.buffer, v.byteOffset, v.length) as unknown as T;
}

/** A guarded array of `n` elements of the class of `like`, viewing `buffer` from byte 0. */
export function guardedOver(like: ArrayBufferView, buffer: ArrayBuffer, n: number): Plain {
  const G = guardedClassOf(like);
  return new G(buffer, 0, n);
}

/** A guarded DRAM copy of `values`. */
export function guardedCopy<T extends BackendValues>(values: T): T {
  if (Array.isArray(values)) return values.map(v => guardedCopy(v)) as T;
  const v = values as unknown as Plain;
  const G = guardedClassOf(v);
  return new G(v) as unknown as T;
}

/** A plain DRAM copy of `values` (same element type; string tensors: each byte array copied). */
export function copyValues<T extends BackendValues>(values: T): T {
  if (Array.isArray(values)) return values.map(v => (ArrayBuffer.isView(v) ? copyValues(v) : v)) as T;
  if (ArrayBuffer.isView(values)) {
    const v = values as unknown as Plain;
    const P = plainClassOf(v);
    return new P(v) as unknown as T;
  }
  return values;
}

// ---- owners -------------------------------------------------------------------------------------------

const byOwner = new Map<StorageOwner, Set<ShelfTensorData>>();

export function addOwned(owner: StorageOwner, e: ShelfTensorData): void {
  let set = byOwner.get(owner);
  if (set === undefined) byOwner.set(owner, (set = new Set()));
  set.add(e);
}

export function removeOwned(e: ShelfTensorData): void {
  if (e.owner === undefined) return;
  const set = byOwner.get(e.owner);
  if (set !== undefined) {
    set.delete(e);
    if (set.size === 0) byOwner.delete(e.owner);
  }
  e.owner = undefined;
}

/** How many live tensor buffers (dataIds; a complex64 tensor counts its two parts) use `owner`'s memory. */
export function liveBufferCount(owner: StorageOwner): number {
  return byOwner.get(owner)?.size ?? 0;
}

/**
 * Move every live buffer of `owner` to DRAM (one copy each), so that the owner's memory can go away.
 * Tensors keep their dataIds, shapes and values; they are simply no longer zero-copy. Returns how many
 * buffers moved. The copies stay guarded: a later in-place write never leaks into kernel outputs.
 */
export function evictOwner(owner: StorageOwner): number {
  const set = byOwner.get(owner);
  if (set === undefined) return 0;
  byOwner.delete(owner);
  let n = 0;
  for (const e of set) {
    if (e.values != null) e.values = guardedCopy(e.values);
    e.residence = 'dram';
    e.owner = undefined;
    n++;
  }
  return n;
}
