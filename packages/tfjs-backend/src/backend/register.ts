/**
 * registerShelfBackend — what `import '@tsmm/tfjs-backend'` does for the backend (index.ts calls it).
 * Idempotent: a second copy of this package, or a second call, registers nothing twice.
 */
import { findBackendFactory, registerBackend } from '@tensorflow/tfjs-core';
import { registerShelfKernels } from '../kernels/register_all_kernels';
import { installLazyZeros } from '../io/lazy_zeros';
import { SHELF_BACKEND_NAME, SHELF_BACKEND_PRIORITY, ShelfBackend } from './backend_shelf';

export function registerShelfBackend(): { backend: boolean; kernels: number } {
  let backend = false;
  if (findBackendFactory(SHELF_BACKEND_NAME) == null) {
    backend = registerBackend(SHELF_BACKEND_NAME, () => {
      installLazyZeros(); // loadLayersModel under 'shelf' then builds no throw-away zero weights
      return new ShelfBackend();
    }, SHELF_BACKEND_PRIORITY);
  }
  const kernels = registerShelfKernels();
  return { backend, kernels };
}
