/**
 * @tsmm/tfjs-backend — `import '@tsmm/tfjs-backend'` registers the 'shelf' backend (below 'cpu' in
 * priority: chosen only by `await tf.setBackend('shelf')`), re-registers every 'cpu' kernel for it, and
 * registers the tensor codec with @tsmm/core. The same names without side effects: '@tsmm/tfjs-backend/dist/base'.
 */
import { registerShelfBackend } from './backend/register';
import { registerTensorCodec } from './tensor_codec';

export * from './base';

registerShelfBackend();
registerTensorCodec();

// --- side effects of variables, checkpoints, io (tfjs-B): shelf:// routers ---
import { registerShelfRouters } from './io/shelf_io';
import { registerPersistenceCodecs } from './io/codecs';

registerShelfRouters();
registerPersistenceCodecs();
// --- end side effects (tfjs-B) ---
