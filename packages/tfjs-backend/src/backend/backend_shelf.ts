/**
 * ShelfBackend — tfjs-backend-cpu's MathBackendCPU with storage that may live in persistent memory.
 *
 * It holds storage and ref-counts only: every kernel is tfjs-backend-cpu's own, re-registered for 'shelf'
 * (see ../kernels/register_all_kernels.ts). Kernels read `backend.data.get(dataId).values` and create
 * outputs through `write()` / `makeTensorInfo()`, so those are the hooks where placement happens.
 *
 * Why '@tensorflow/tfjs-backend-cpu' and not '.../dist/base': in Node the package's `main` is one CommonJS
 * bundle (dist/tf-backend-cpu.node.js); its `dist/base.js` is an ES module with extension-less imports that
 * Node cannot load from CommonJS. The bundle registers 'cpu' and its kernels as a side effect, once per
 * process (the module cache sees to that), which is exactly the registration we copy from. Bundlers
 * (`--main-fields=module,main`) pick dist/index.js, which does the same.
 *
 * Placement 'all' has no hook inside the kernels: they allocate their outputs as plain JS typed arrays
 * (`util.getTypedArrayFromDType`, `new Float32Array`, `tf.buffer`), so `write()` copies each output into a
 * pool block and the JS array becomes garbage. The copies are counted in {@link shelfPlacementStats}.
 *
 * Lifetimes, summarised (details on each method):
 *   - `dataSync()` / `data()` / `arraySync()` on a tensor whose storage is shelf, pool or in-place-written
 *     memory return a COPY, which the caller owns for as long as it likes. Plain DRAM storage is returned
 *     as 'cpu' returns it.
 *   - {@link ShelfBackend.borrowValues} is the explicit zero-copy accessor.
 *   - Adopted memory is never freed by the backend; its owner must call {@link evictOwner} (through the
 *     shelf's close hook) before the memory goes away.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import {
  engine,
  util,
  type BackendValues,
  type DataId,
  type DataType,
  type Tensor,
  type TensorInfo,
  type TypedArray,
} from '@tensorflow/tfjs-core';
import { getShelfBackendConfig } from '../config';
import { poolAlloc, poolRelease } from './pool';
import {
  addOwned,
  copyValues,
  guardedCopy,
  guardedOver,
  guardedView,
  isGuarded,
  removeOwned,
  type ShelfTensorData,
  type StorageOwner,
} from './storage';

export const SHELF_BACKEND_NAME = 'shelf';
/** Below 'cpu' (1), 'wasm' (2), 'webgl' (2) and 'tensorflow' (3): never chosen unless asked for. */
export const SHELF_BACKEND_PRIORITY = 0;

/** Values the adopt API accepts: a typed array of the dtype's class, or one byte array per string. */
export type AdoptableValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

/** Counters of where buffers went, for tests and for measuring the cost of placement 'all'. */
export interface PlacementStats {
  /** Buffers copied into the backend pool at write/move, their bytes, and the time the copies took. */
  poolWrites: number;
  poolBytes: number;
  poolCopyMs: number;
  /** Kernel outputs that aliased guarded memory and were copied to DRAM. */
  aliasCopies: number;
  /** Buffers made zero-copy by adopt(). */
  adoptions: number;
  /** Copies made by readSync for guarded storage. */
  readCopies: number;
  /** DataIds made by {@link ShelfBackend.makeZeros}, and how many of them had their zeros made (were read). */
  lazyZeros: number;
  lazyZerosMade: number;
}

const placementStats: PlacementStats = {
  poolWrites: 0,
  poolBytes: 0,
  poolCopyMs: 0,
  aliasCopies: 0,
  adoptions: 0,
  readCopies: 0,
  lazyZeros: 0,
  lazyZerosMade: 0,
};

export function shelfPlacementStats(): PlacementStats {
  return { ...placementStats };
}

let nextId = 0;

function expectedClass(dtype: DataType): string | null {
  switch (dtype) {
    case 'float32':
      return 'Float32Array';
    case 'int32':
      return 'Int32Array';
    case 'bool':
      return 'Uint8Array';
    default:
      return null;
  }
}

export class ShelfBackend extends MathBackendCPU {
  /** Entries whose memory is not plain DRAM, so that dispose() can give it back. */
  private readonly special = new Set<ShelfTensorData>();

  private entry(dataId: DataId): ShelfTensorData {
    return this.data.get(dataId) as unknown as ShelfTensorData;
  }

  private mustHave(dataId: DataId, what: string): ShelfTensorData {
    if (dataId == null || !this.data.has(dataId)) {
      throw new TypeError(`${what}: the dataId is not stored in this 'shelf' backend (disposed, or on another backend)`);
    }
    return this.entry(dataId);
  }

  /**
   * Decide where `values` live (the one placement hook: tensors from user data, kernel outputs and data
   * moved in from other backends all come through here).
   */
  private place(values: BackendValues | null | undefined, dtype: DataType, refCount: number): ShelfTensorData {
    const e: ShelfTensorData = { values: values ?? undefined, dtype, refCount, residence: 'dram' };
    if (values == null) return e;
    if (Array.isArray(values)) {
      // strings (and the odd plain number[]): DRAM; copy byte arrays that alias guarded memory
      if (isGuarded(values)) {
        e.values = copyValues(values);
        placementStats.aliasCopies++;
      }
      return e;
    }
    const typed = values as TypedArray;
    if (getShelfBackendConfig().placement === 'all' && typed.byteLength > 0) {
      const t0 = performance.now();
      const block = poolAlloc(typed.byteLength);
      const arr = guardedOver(typed, block.buffer, typed.length);
      arr.set(typed as ArrayLike<number>);
      placementStats.poolCopyMs += performance.now() - t0;
      placementStats.poolWrites++;
      placementStats.poolBytes += typed.byteLength;
      e.values = arr;
      e.residence = 'pool';
      e.poolOffset = block.offset;
      this.special.add(e);
      return e;
    }
    if (isGuarded(typed)) {
      e.values = copyValues(typed);
      placementStats.aliasCopies++;
    }
    return e;
  }

  private releaseStorage(e: ShelfTensorData): void {
    if (e.residence === 'pool' && e.poolOffset !== undefined) poolRelease(e.poolOffset);
    if (e.residence === 'adopted') removeOwned(e);
    this.special.delete(e);
    e.poolOffset = undefined;
    e.values = undefined;
  }

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = { id: nextId++ };
    this.data.set(dataId, this.place(values, dtype, 1) as never);
    return dataId;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    this.data.set(dataId, this.place(values, dtype, refCount) as never);
  }

  /**
   * A new dataId (refCount 1) of `util.sizeFromShape(shape)` zeros of `dtype` (float32, int32 or bool) whose memory is
   * allocated on first use: the first read of its values (a kernel, `dataSync()`, a move to another backend) makes the
   * zeros where {@link place} would have put them. A dataId that is disposed unread costs no memory at all: this is
   * what tfjs-layers' throw-away initial weights need (`loadLayersModel` builds every weight from the `zeros`
   * initializer, then assigns the loaded values; see io/lazy_zeros.ts). Wrap it in exactly one tensor, as for
   * {@link adopt}.
   */
  makeZeros(shape: number[], dtype: DataType): DataId {
    if (expectedClass(dtype) === null) throw new TypeError(`makeZeros: dtype ${dtype} is not float32, int32 or bool`);
    const n = util.sizeFromShape(shape);
    const dataId = { id: nextId++ };
    const e: ShelfTensorData = { values: undefined, dtype, refCount: 1, residence: 'dram' };
    // Writing `values` (dispose, eviction) simply replaces the lazy property with the value written.
    const settle = (v: BackendValues | undefined): void => {
      Object.defineProperty(e, 'values', { value: v, writable: true, enumerable: true, configurable: true });
    };
    Object.defineProperty(e, 'values', {
      enumerable: true,
      configurable: true,
      get: () => {
        placementStats.lazyZerosMade++;
        const placed = this.place(util.makeZerosTypedArray(n, dtype) as BackendValues, dtype, e.refCount);
        settle(placed.values);
        e.residence = placed.residence;
        if (placed.residence === 'pool') {
          e.poolOffset = placed.poolOffset;
          this.special.delete(placed);
          this.special.add(e);
        }
        return e.values;
      },
      set: settle,
    });
    this.data.set(dataId, e as never);
    placementStats.lazyZeros++;
    return dataId;
  }

  /** Copies guarded (shelf, pool, in-place-written) storage; DRAM storage is returned as 'cpu' does. */
  override readSync(dataId: DataId): BackendValues {
    const e = this.entry(dataId);
    if (e.dtype !== 'complex64' && isGuarded(e.values)) {
      placementStats.readCopies++;
      return util.convertBackendValuesAndArrayBuffer(copyValues(e.values as BackendValues), e.dtype);
    }
    return super.readSync(dataId);
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const e = this.entry(dataId);
    e.refCount--;
    if (!force && e.refCount > 0) return false;
    if (e.complexTensorInfos != null) {
      this.disposeData(e.complexTensorInfos.real.dataId, true);
      this.disposeData(e.complexTensorInfos.imag.dataId, true);
    }
    this.releaseStorage(e);
    this.data.delete(dataId);
    return true;
  }

  /** Releases the pool memory and owner registrations of everything still stored (tfjs reset/removeBackend). */
  override dispose(): void {
    for (const e of [...this.special]) this.releaseStorage(e);
    super.dispose();
  }

  override memory(): { unreliable: boolean; reasons: string[] } & { numShelfBuffers: number } {
    return { ...super.memory(), numShelfBuffers: this.special.size };
  }

  // ---- the storage API used by the tensor codec, persistent variables and checkpoints -----------------

  /**
   * Store `values` AS the data of a new dataId (refCount 1): no copy, the tensor's storage IS this memory
   * (held as a guarded view of it: a GuardedFloat32Array etc. over the same bytes, see ./storage.ts).
   * Wrap the result in exactly one tensor (`engine().makeTensorFromDataId(id, shape, dtype, backend)`), or
   * use {@link adoptTensor} which does both.
   *
   * `values` must be a Float32Array (float32), Int32Array (int32), Uint8Array (bool) or one Uint8Array of
   * UTF-8 bytes per element (string), with exactly `sizeFromShape(shape)` elements. complex64: {@link adoptComplex}.
   *
   * Lifetime: the backend never frees adopted memory and never lets it escape: `dataSync()` returns copies
   * and kernel outputs that would alias it are copied. The memory must stay valid while the dataId lives, or
   * until `evictOwner(owner)` has moved the data to DRAM (a shelf's close hook does this with `{force:true}`).
   * Without an `owner`, the caller guarantees that the memory outlives the dataId.
   */
  adopt(values: AdoptableValues, shape: number[], dtype: DataType, owner?: StorageOwner): DataId {
    this.checkAdoptable(values, shape, dtype);
    const dataId = { id: nextId++ };
    const e: ShelfTensorData = { values: guardedView(values), dtype, refCount: 1, residence: 'adopted' };
    if (owner !== undefined) {
      e.owner = owner;
      addOwned(owner, e);
    }
    this.special.add(e);
    this.data.set(dataId, e as never);
    placementStats.adoptions++;
    return dataId;
  }

  /** A complex64 dataId whose real and imaginary parts are the given memory (see {@link adopt}). */
  adoptComplex(real: Float32Array, imag: Float32Array, shape: number[], owner?: StorageOwner): DataId {
    const realId = this.adopt(real, shape, 'float32', owner);
    const imagId = this.adopt(imag, shape, 'float32', owner);
    const dataId = { id: nextId++ };
    const e: ShelfTensorData = {
      values: undefined,
      dtype: 'complex64',
      refCount: 1,
      residence: 'dram',
      complexTensorInfos: {
        real: { dataId: realId, shape, dtype: 'float32' },
        imag: { dataId: imagId, shape, dtype: 'float32' },
      },
    };
    this.data.set(dataId, e as never);
    return dataId;
  }

  /** {@link adopt} (or {@link adoptComplex} when `values` is `{real, imag}`) and wrap it in a tensor. */
  adoptTensor<T extends Tensor = Tensor>(
    values: AdoptableValues | { real: Float32Array; imag: Float32Array },
    shape: number[],
    dtype: DataType,
    owner?: StorageOwner,
  ): T {
    let dataId: DataId;
    if (dtype === 'complex64') {
      const v = values as { real: Float32Array; imag: Float32Array };
      if (v == null || !(v.real instanceof Float32Array) || !(v.imag instanceof Float32Array)) {
        throw new TypeError('Expected complex64 values to be {real: Float32Array, imag: Float32Array}');
      }
      dataId = this.adoptComplex(v.real, v.imag, shape, owner);
    } else {
      dataId = this.adopt(values as AdoptableValues, shape, dtype, owner);
    }
    return engine().makeTensorFromDataId(dataId, shape, dtype, this) as T;
  }

  /**
   * Overwrite the data of `dataId` with `values`, keeping the dataId (a persistent variable's assign).
   * Every tensor sharing this dataId sees the new values — in tfjs, reshape/identity/clone outputs share
   * their input's dataId (check {@link refCount} > 1 if that matters). Kernel outputs never alias adopted or
   * pool memory, so no other dataId changes. Storage that was plain DRAM is replaced by a fresh array instead
   * (earlier kernel outputs may alias it, as on 'cpu'); from then on it is guarded like adopted memory.
   * Nothing is made durable: persisting is the caller's business.
   */
  writeInPlace(dataId: DataId, values: ArrayLike<number>): void {
    const e = this.mustHave(dataId, 'writeInPlace');
    if (e.dtype === 'complex64' || e.dtype === 'string' || e.values == null || Array.isArray(e.values)) {
      throw new TypeError(`writeInPlace: ${e.dtype} data cannot be written in place`);
    }
    if (e.owner?.readOnly === true) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { ShelfError } = require('@tsmm/native') as typeof import('@tsmm/native');
      throw new ShelfError('ESHELF_READONLY', `writeInPlace: the memory of this tensor belongs to read-only ${e.owner.label}`);
    }
    const dst = e.values as TypedArray;
    if (values == null || typeof values.length !== 'number' || values.length !== dst.length) {
      throw new RangeError(`writeInPlace: expected ${dst.length} values, got ${values == null ? values : values.length}`);
    }
    if (!isGuarded(dst)) {
      // plain DRAM: earlier kernel outputs may alias it, so write a new (guarded) array instead
      const fresh = guardedCopy(dst);
      fresh.set(values);
      e.values = fresh;
      return;
    }
    dst.set(values);
  }

  /**
   * Rebind `dataId` to other memory without copying (a checkpoint flipping to the other of two buffers).
   * The previous storage is released (pool memory given back, owner registration dropped). Same rules for
   * `values` as {@link adopt}; its element count must match.
   */
  replaceStorage(dataId: DataId, values: AdoptableValues, owner?: StorageOwner): void {
    const e = this.mustHave(dataId, 'replaceStorage');
    if (e.dtype === 'complex64') throw new TypeError('replaceStorage: complex64 data has no storage of its own');
    const n = e.values == null ? 0 : (e.values as ArrayLike<unknown>).length;
    this.checkAdoptable(values, [n], e.dtype);
    this.releaseStorage(e);
    e.values = guardedView(values);
    e.residence = 'adopted';
    if (owner !== undefined) {
      e.owner = owner;
      addOwned(owner, e);
    }
    this.special.add(e);
  }

  /**
   * ZERO-COPY access to the storage of `dataId` (not complex64). The returned array is only valid until the
   * dataId is disposed (pool memory is then recycled for other tensors at once), rebound by replaceStorage or
   * evicted, or its memory goes away (shelf closed: it then reads as length 0). Do not keep it: copy it
   * (`new Float32Array(v)`) to keep the values. Writing into it changes the tensor (and, for adopted memory,
   * the shelf) without any of {@link writeInPlace}'s care for plain DRAM storage.
   */
  borrowValues(dataId: DataId): BackendValues {
    const e = this.mustHave(dataId, 'borrowValues');
    if (e.dtype === 'complex64') throw new TypeError('borrowValues: complex64 data has no storage of its own');
    return e.values as BackendValues;
  }

  /** Where the data of `dataId` lives, and its owner (adopted memory). complex64: where its real part lives. */
  residenceOf(dataId: DataId): { residence: ShelfTensorData['residence']; owner?: StorageOwner } {
    const c = this.mustHave(dataId, 'residenceOf');
    const e = c.complexTensorInfos != null ? this.mustHave(c.complexTensorInfos.real.dataId, 'residenceOf') : c;
    return e.owner === undefined ? { residence: e.residence } : { residence: e.residence, owner: e.owner };
  }

  private checkAdoptable(values: AdoptableValues, shape: number[], dtype: DataType): void {
    const size = util.sizeFromShape(shape);
    if (dtype === 'string') {
      if (!Array.isArray(values) || !values.every(v => v instanceof Uint8Array)) {
        throw new TypeError('Expected string values to be an array of Uint8Array (UTF-8 bytes per element)');
      }
    } else {
      const cls = expectedClass(dtype);
      if (cls === null) throw new TypeError(`Cannot adopt values of dtype ${dtype}`);
      if (!ArrayBuffer.isView(values) || values.constructor.name !== cls) {
        throw new TypeError(`Expected ${dtype} values to be a ${cls}`);
      }
    }
    if (values.length !== size) {
      throw new RangeError(`Expected ${size} values for shape [${shape.join(', ')}], got ${values.length}`);
    }
  }
}
