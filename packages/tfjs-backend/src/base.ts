/**
 * @tsmm/tfjs-backend, side-effect free: everything `import '@tsmm/tfjs-backend'` exports, without
 * registering anything. Call `registerShelfBackend()` and `registerTensorCodec()` yourself, or import the
 * package root, which does both.
 */
import { findBackend } from '@tensorflow/tfjs-core';
import { SHELF_BACKEND_NAME, ShelfBackend, shelfPlacementStats, type PlacementStats } from './backend/backend_shelf';
import { backendPoolStats, type BackendPoolStats } from './backend/pool';

// --- backend, storage, kernels, config, tensor codec ---
export {
  ShelfBackend,
  SHELF_BACKEND_NAME,
  SHELF_BACKEND_PRIORITY,
  shelfPlacementStats,
  type AdoptableValues,
  type PlacementStats,
} from './backend/backend_shelf';
export { evictOwner, liveBufferCount, type Residence, type StorageOwner } from './backend/storage';
export { backendPoolStats, closeBackendPool, trimBackendPool, type BackendPoolStats } from './backend/pool';
export { registerShelfBackend } from './backend/register';
export { registerShelfKernels, shelfKernelNames, SOURCE_BACKEND_NAME } from './kernels/register_all_kernels';
export {
  configureShelfBackend,
  defaultPmemPath,
  getShelfBackendConfig,
  DEFAULT_POOL_NAME,
  DEFAULT_SIZE_MB,
  type Placement,
  type ShelfBackendConfig,
  type ShelfBackendOptions,
} from './config';
export {
  liveShelfTensorBuffers,
  ownerForShelf,
  registerTensorCodec,
  tensorCodec,
  TENSOR_KIND,
  type TensorHeader,
} from './tensor_codec';

/**
 * The 'shelf' backend instance (created on first call, like `tf.findBackend`), whether or not it is the
 * active backend. Throws when the backend is not registered.
 */
export function shelfBackend(): ShelfBackend {
  const b = findBackend(SHELF_BACKEND_NAME);
  if (!(b instanceof ShelfBackend)) {
    throw new Error(`The '${SHELF_BACKEND_NAME}' backend is not registered: import '@tsmm/tfjs-backend' first`);
  }
  return b;
}

/** Where buffers went so far (placement counters) and the state of the backend's own pool. */
export function shelfBackendStats(): PlacementStats & { pool: BackendPoolStats } {
  return { ...shelfPlacementStats(), pool: backendPoolStats() };
}

// --- variables, checkpoints, io (tfjs-B) ---
export {
  shelfVariable,
  isShelfVariable,
  variableCodec,
  VARIABLE_KIND,
  type ShelfVariableDtype,
  type VariableHeader,
} from './variables';
export {
  attachModel,
  detachModel,
  modelVariables,
  type AttachableModel,
  type AttachOptions,
  type AttachResult,
} from './attach';
export {
  attachVariables,
  checkpoint,
  detach,
  optimizerSlots,
  checkpointCodec,
  CHECKPOINT_KIND,
  type CheckpointOptions,
  type CheckpointState,
  type StateHeader,
} from './checkpoint';
export {
  ShelfIOHandler,
  URL_SCHEME,
  MODEL_KIND,
  WEIGHT_KIND,
  shelfIO,
  shelfRouter,
  registerShelfRouters,
  parseShelfUrl,
  closeShelfUrls,
  type ShelfModelManifest,
} from './io/shelf_io';
export { modelCodec, weightCodec, slabCodec, registerPersistenceCodecs } from './io/codecs';
// --- end variables, checkpoints, io (tfjs-B) ---
