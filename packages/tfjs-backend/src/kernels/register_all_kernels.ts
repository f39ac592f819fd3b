/**
 * Every kernel registered for 'cpu' is registered for 'shelf' with the same functions.
 *
 * The 'shelf' backend IS a MathBackendCPU (storage differs, arithmetic does not), so tfjs-backend-cpu's
 * kernels run on it unchanged; this file copies their registrations instead of listing 172 imports that
 * would drift from the installed tfjs version. Gradients are keyed by kernel name, not backend, so they
 * apply to 'shelf' as they are.
 *
 * Each kernel function is wrapped once, to tell the backend pool when the outermost kernel is running
 * (blocks released inside a kernel are reused only after it returns: see ../backend/pool.ts). The wrapper
 * carries the cpu function as `cpuKernelFunc`.
 *
 * Kernels registered for 'cpu' after this ran (a custom kernel, say) are picked up by calling
 * {@link registerShelfKernels} again: it is idempotent and returns how many it added.
 */
import { getKernel, getKernelsForBackend, registerKernel, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';
import { SHELF_BACKEND_NAME } from '../backend/backend_shelf';
import { enterKernel, exitKernel } from '../backend/pool';

/** The shelf kernel function: cpu's, bracketed by enterKernel/exitKernel. */
export type ShelfKernelFunc = KernelFunc & { readonly cpuKernelFunc: KernelFunc };

function wrap(kernelFunc: KernelFunc): ShelfKernelFunc {
  const shelfKernelFunc: KernelFunc = params => {
    enterKernel();
    try {
      return kernelFunc(params);
    } finally {
      exitKernel();
    }
  };
  Object.defineProperty(shelfKernelFunc, 'cpuKernelFunc', { value: kernelFunc });
  return shelfKernelFunc as ShelfKernelFunc;
}

export const SOURCE_BACKEND_NAME = 'cpu';

export function registerShelfKernels(): number {
  let added = 0;
  for (const config of getKernelsForBackend(SOURCE_BACKEND_NAME)) {
    if (getKernel(config.kernelName, SHELF_BACKEND_NAME) != null) continue;
    const shelfConfig: KernelConfig = { ...config, backendName: SHELF_BACKEND_NAME, kernelFunc: wrap(config.kernelFunc) };
    registerKernel(shelfConfig);
    added++;
  }
  return added;
}

/** Names of the kernels registered for 'shelf'. */
export function shelfKernelNames(): string[] {
  return getKernelsForBackend(SHELF_BACKEND_NAME).map(k => k.kernelName);
}
