/**
 * @tsmm/core — PyMM's persistent shelf for TypeScript.
 *
 * ```ts
 * import { shelf, ndarray } from '@tsmm/core';
 * const s = shelf('myShelf', { sizeMb: 1024, pmemPath: '/mnt/pmem0', forceNew: true });
 * s.x = ndarray([1000, 1000], 'int64');   // on the shelf, zero-filled, a scijs ndarray viewing shelf memory
 * s.x.set(1, 1, 9n);
 * s.items; s.used; s.erase('x');
 * ```
 *
 * Views (arrays, typed arrays, Buffers) read and write shelf memory directly; they stay valid until the shelf is closed,
 * then are detached (length 0). See {@link Shelf} for the full lifetime rules.
 */
export { shelf, Shelf, type ShelfVariables } from './shelf';
export { type ShelfOptions, defaultPmemPath } from './options';
export {
  ndarray, NdArraySpec, isNdarray, type Order, type ShelvedNdArray, type ShelvedArrayMethods, type DataOf,
} from './codecs/ndarray';
export { ChunkedData, type ElementOf } from './chunked';
export { DTYPES, type DType, type TypedArray, type TypedArrayConstructor } from './dtypes';
export {
  registerShelfType, shelfTypes, type ShelfCodec, type ShelfPlan, type ShelfReadContext,
} from './codecs/registry';
export { type ShelfRegion } from './region';
export { internals, type ShelfInternals } from './internals';
export { ShelfTable, type ShelfRecord, formatNdarray } from './inspect';
export { encodeMeta, decodeMeta, META_VERSION } from './meta';
export { coreDebugLevel } from './debug';
export { ShelfError, type ShelfErrorCode } from './errors';
export { MAX_VIEW_BYTES } from '@tsmm/native';
export type { Op, Entry, Pool, PoolStats } from '@tsmm/native';
// NumPy .npy and safetensors import/export (src/interop, written by the CLI/interop engineer).
export * from './interop';
