/**
 * The backend's own volatile pool (placement 'all').
 *
 * One `@tsmm/native` Pool per process, shared by every ShelfBackend instance (tfjs re-creates backends on
 * `tf.engine().reset()`, and re-creating a pool each time would be slow and pointless). It is opened with
 * `forceNew` at the first allocation, at `<pmemPath>/<name>.{data,map}` (when another process holds that pool
 * and no name was configured, at `<name>.<pid>`, deleted at exit). Nothing in it is ever committed, so
 * whatever a crashed process left allocated is reclaimed by the next open.
 *
 * Recycling. Released blocks are NOT given back to the engine: they go to a free list (by size, rounded to
 * 64 bytes) and the next allocation of that size takes one, view included. The engine could only reuse a
 * released extent after V8 has garbage-collected every view of it, and V8 does not see mapped memory as
 * memory pressure: a training loop that released to the engine grew a 16 MiB pool to 4 GiB in 400 steps of
 * a 3 MiB working set. With the free list the pool holds the peak working set, as a caching allocator does.
 * When the pool is full, the smallest cached block that is large enough is used before the pool grows.
 * {@link trimBackendPool} gives cached blocks back to the engine.
 *
 * Quarantine. tfjs-backend-cpu kernels may keep using an intermediate's values after disposing it within
 * the same kernel (FFT does). So a block released while a kernel runs is held back until the outermost
 * kernel returns ({@link enterKernel}/{@link exitKernel}, called by the 'shelf' kernel wrappers); only then
 * may it hold another tensor's data.
 *
 * Lifetimes: an allocation's `buffer` is a zero-copy view of the mapping. It stays valid until the pool is
 * closed (process exit, or {@link closeBackendPool}). Once released (and out of quarantine) the block may
 * hold another tensor's data: the backend never lets a view escape (reads return copies, kernel outputs that
 * alias pool memory are copied), so only a disposed tensor's storage is recycled.
 *
 * When the pool is full it grows in place (views stay valid): to twice its size, or more if one allocation
 * needs it. A pool that cannot grow (disk full, beyond its reserved address range) fails the allocation with
 * the engine's `ESHELF_FULL`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as NativeModule from '@tsmm/native';
import type { Pool } from '@tsmm/native';
import { getShelfBackendConfig, onConfigChange, resolvePmemPath, type ShelfBackendConfig } from '../config';

/** Loaded on first use only: placement 'named' never needs the addon. */
function native(): typeof NativeModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@tsmm/native') as typeof NativeModule;
}

export interface PoolBlock {
  readonly offset: number;
  /** The block's view: at least the requested number of bytes (its size rounded up to 64), viewing pool memory. */
  readonly buffer: ArrayBuffer;
}

export interface BackendPoolStats {
  open: boolean;
  path: string | null;
  size: number;
  /** Allocations in use (not released). */
  liveBlocks: number;
  liveBytes: number;
  /** Released blocks kept for reuse, and their bytes. */
  cachedBlocks: number;
  cachedBytes: number;
  /** Since process start: blocks taken from the engine, blocks reused from the free list, releases, grows. */
  allocations: number;
  reuses: number;
  releases: number;
  grows: number;
}

const MiB = 1024 * 1024;
const ALIGN = 64;

let pool: Pool | null = null;
let poolPath: string | null = null;
let poolSize = 0;
let destroyAtExit = false;
let exitHook = false;
const counters = { liveBlocks: 0, liveBytes: 0, cachedBlocks: 0, cachedBytes: 0, allocations: 0, reuses: 0, releases: 0, grows: 0 };
/** offset -> block, for blocks in use */
const inUse = new Map<number, PoolBlock>();
/** rounded size -> released blocks of exactly that size */
const free = new Map<number, PoolBlock[]>();
/** blocks released while a kernel runs, reusable when the outermost kernel returns */
const quarantine: PoolBlock[] = [];
let kernelDepth = 0;

/**
 * Debugging aid (`TSMM_BACKEND_POISON=1`): fill blocks with 0xFF bytes (NaN as float32, -1 as int32) as they
 * become reusable, so that a read of released memory shows up. The op-suite test runs with it on.
 */
const poison = process.env.TSMM_BACKEND_POISON === '1';

function addFree(b: PoolBlock): void {
  const size = b.buffer.byteLength;
  if (poison) new Uint8Array(b.buffer).fill(0xff);
  let list = free.get(size);
  if (list === undefined) free.set(size, (list = []));
  list.push(b);
  counters.cachedBlocks++;
  counters.cachedBytes += size;
}

/** A 'shelf' kernel starts (calls nest: kernels run kernels). */
export function enterKernel(): void {
  kernelDepth++;
}

/** A 'shelf' kernel returned or threw: when it was the outermost, quarantined blocks become reusable. */
export function exitKernel(): void {
  if (--kernelDepth > 0) return;
  kernelDepth = 0;
  if (quarantine.length === 0) return;
  if (pool !== null && !pool.closed) for (const b of quarantine) addFree(b);
  quarantine.length = 0;
}

function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

function open(cfg: ShelfBackendConfig): Pool {
  const { Pool: PoolClass } = native();
  const dir = resolvePmemPath(cfg);
  const size = cfg.sizeMb * MiB;
  let p = path.join(dir, cfg.name);
  let opened: Pool;
  try {
    opened = PoolClass.open(p, { size, forceNew: true });
    destroyAtExit = false;
  } catch (e) {
    // Another process uses the default pool: take a private one and remove it at exit.
    if (!isCode(e, 'ESHELF_LOCKED') || cfg.nameGiven) throw e;
    p = path.join(dir, `${cfg.name}.${process.pid}`);
    opened = PoolClass.open(p, { size, forceNew: true });
    destroyAtExit = true;
  }
  pool = opened;
  poolPath = p;
  poolSize = size;
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => closeBackendPool());
  }
  return opened;
}

function takeFree(size: number): PoolBlock | undefined {
  const list = free.get(size);
  if (list === undefined) return undefined;
  const b = list.pop()!;
  if (list.length === 0) free.delete(size);
  counters.cachedBlocks--;
  counters.cachedBytes -= size;
  return b;
}

/** The smallest cached block of at least `size` bytes. */
function takeFreeAtLeast(size: number): PoolBlock | undefined {
  let best = -1;
  for (const k of free.keys()) if (k >= size && (best < 0 || k < best)) best = k;
  return best < 0 ? undefined : takeFree(best);
}

function use(b: PoolBlock): PoolBlock {
  inUse.set(b.offset, b);
  counters.liveBlocks++;
  counters.liveBytes += b.buffer.byteLength;
  return b;
}

/** Allocate at least `byteLength` (> 0) bytes in the backend pool, opening it if needed. */
export function poolAlloc(byteLength: number): PoolBlock {
  const size = Math.ceil(byteLength / ALIGN) * ALIGN;
  const cached = takeFree(size);
  if (cached !== undefined) {
    counters.reuses++;
    return use(cached);
  }
  const p = pool ?? open(getShelfBackendConfig());
  let offset: number;
  try {
    offset = p.alloc(size);
  } catch (e) {
    if (!isCode(e, 'ESHELF_FULL')) throw e;
    const bigger = takeFreeAtLeast(size);
    if (bigger !== undefined) {
      counters.reuses++;
      return use(bigger);
    }
    // Grow in place (views stay valid), then retry once.
    const want = Math.max(poolSize * 2, poolSize + size + 16 * MiB);
    const next = Math.ceil(want / MiB) * MiB;
    try {
      p.grow(next);
    } catch {
      throw e;
    }
    poolSize = next;
    counters.grows++;
    offset = p.alloc(size);
  }
  counters.allocations++;
  return use({ offset, buffer: p.view(offset, size) });
}

/** Give back a block: it goes to the free list for the next allocation of its size. */
export function poolRelease(offset: number): void {
  const b = inUse.get(offset);
  if (b === undefined) return;
  inUse.delete(offset);
  const size = b.buffer.byteLength;
  counters.releases++;
  counters.liveBlocks--;
  counters.liveBytes -= size;
  if (pool === null || pool.closed) return;
  if (kernelDepth > 0) quarantine.push(b);
  else addFree(b);
}

/**
 * Give every cached (released) block back to the engine. The engine reuses their memory once V8 has
 * collected their views. Returns the bytes given back.
 */
export function trimBackendPool(): number {
  const bytes = counters.cachedBytes;
  if (pool !== null && !pool.closed) {
    for (const list of free.values()) for (const b of list) pool.release(b.offset);
  }
  free.clear();
  counters.cachedBlocks = 0;
  counters.cachedBytes = 0;
  return bytes;
}

/**
 * Close the backend pool (detaching every view into it) and delete a private per-process pool.
 * Called at process exit. Calling it with live pool-backed tensors makes them read as empty: dispose
 * them (or `tf.engine().reset()`) first.
 */
export function closeBackendPool(): void {
  if (pool === null) return;
  const p = pool;
  const where = poolPath;
  pool = null;
  poolPath = null;
  poolSize = 0;
  inUse.clear();
  free.clear();
  quarantine.length = 0;
  counters.liveBlocks = 0;
  counters.liveBytes = 0;
  counters.cachedBlocks = 0;
  counters.cachedBytes = 0;
  try {
    p.close();
  } finally {
    if (destroyAtExit && where !== null) {
      try {
        native().Pool.destroy(where);
      } catch {
        for (const f of [`${where}.data`, `${where}.map`]) fs.rmSync(f, { force: true });
      }
    }
  }
}

export function backendPoolStats(): BackendPoolStats {
  return {
    open: pool !== null,
    path: poolPath,
    size: poolSize,
    ...counters,
  };
}

// Moving the pool while tensors live in it would detach them: refuse.
onConfigChange((next, prev) => {
  if (pool === null) return;
  if (next.pmemPath === prev.pmemPath && next.sizeMb === prev.sizeMb && next.name === prev.name) return;
  if (counters.liveBlocks > 0) {
    const { ShelfError } = native();
    throw new ShelfError(
      'ESHELF_BUSY',
      `the 'shelf' backend pool ${poolPath} holds ${counters.liveBlocks} live tensor buffer(s); ` +
        'dispose them before changing pmemPath, sizeMb or name',
    );
  }
  closeBackendPool();
});
