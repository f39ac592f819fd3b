/**
 * `internals(s)`: the advanced surface for packages building on core (tfjs-backend). Not for applications.
 */
import type { Op, Pool } from '@tsmm/native';
import { decodeMeta, encodeMeta } from './meta';
import { PoolRegion, type ShelfRegion } from './region';
import { coreOf, type Shelf } from './shelf';

/** What {@link internals} returns. */
export interface ShelfInternals {
  /** The native pool of the shelf. */
  readonly pool: Pool;
  /**
   * Commit raw ops as one atomic batch (`pool.commit`) AND drop core's cached values of every name they touch.
   * Not deferred by an open transaction. Returns the batch seq. On failure nothing is committed and allocations named by
   * the ops are still the caller's to release.
   */
  commit(ops: Op[]): number;
  /** Core's meta format (see meta.ts). */
  encodeMeta(kind: string, header: Record<string, unknown>): Uint8Array;
  decodeMeta(meta: Uint8Array): { kind: string; header: Record<string, unknown> };
  /** The region of `byteLength` bytes at `offset` (an extent obtained from `pool.alloc` or an entry). */
  region(offset: number, byteLength: number): ShelfRegion;
  /**
   * Call `hook` at the start of `close()`, before anything is detached. It may throw (e.g. `ESHELF_BUSY`) to refuse a
   * close that is not forced; on `close({force: true})` errors are ignored.
   */
  onClose(hook: (opts: { force: boolean }) => void): void;
}

/** The internals of shelf `s`. */
export function internals(s: Shelf): ShelfInternals {
  const core = coreOf(s);
  return {
    pool: core.pool,
    commit(ops: Op[]): number {
      core.checkOpen();
      const seq = core.pool.commit(ops);
      core.invalidate(ops.map((o) => o.name));
      return seq;
    },
    encodeMeta,
    decodeMeta: (meta: Uint8Array) => decodeMeta(meta),
    region: (offset: number, byteLength: number) => new PoolRegion(core.pool, offset, byteLength),
    onClose(hook) {
      if (typeof hook !== 'function') throw new TypeError('Expected the close hook to be a function');
      core.closeHooks.push(hook);
    },
  };
}
