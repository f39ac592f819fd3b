/**
 * @tsmm/native — the persistent pool engine.
 *
 * This is the one module that loads the compiled addon. Everything else in tsmm reaches
 * persistent memory through the {@link Pool} class exported here.
 *
 * A pool is a fixed-size, growable region of persistent memory plus a crash-consistent
 * index that names extents of it. On disk (see docs/FORMAT.md):
 *   - layout `'pair'`   : `PATH.data` (the region) + `PATH.map` (the index log);
 *   - layout `'single'` : one file or device-DAX character device holding both.
 *
 * Lifetimes (read this before keeping a view):
 *   - {@link Pool.view} returns an `ArrayBuffer` that points straight into the mapping (zero copy).
 *     It stays valid until {@link Pool.close}; `close()` *detaches* every view it handed out,
 *     after which the buffer (and every typed array over it) has length 0 — reading it can never
 *     touch unmapped memory. `grow()` never moves memory: views stay valid across it.
 *   - The extent behind a view is not reused while the view is alive, even after its entry is
 *     erased or replaced: it is returned to the allocator only when every view of it has been
 *     garbage-collected. To keep the bytes past `close()`, copy them (`Buffer.from(view)` or
 *     `typedArray.slice()`).
 *   - A view is at most 4 GiB ({@link MAX_VIEW_BYTES}); larger extents are viewed window by window.
 */
import * as path from 'node:path';

/* eslint-disable @typescript-eslint/no-var-requires */
// node-gyp-build picks prebuilds/<platform>-<arch>/*.node when present, else build/Release.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load: (dir: string) => NativeBinding = require('node-gyp-build');

/** Stable error codes. Every failure of the engine carries one of these in `code`. */
export type ShelfErrorCode =
  | 'ESHELF_EXISTS'
  | 'ESHELF_NOT_FOUND'
  | 'ESHELF_FULL'
  | 'ESHELF_LOCKED'
  | 'ESHELF_CORRUPT'
  | 'ESHELF_CLOSED'
  | 'ESHELF_READONLY'
  | 'ESHELF_NAME'
  | 'ESHELF_TYPE'
  | 'ESHELF_BUSY'
  | 'ESHELF_IO'
  | 'ESHELF_TX';

/**
 * The one error class of tsmm. `code` is stable and meant for programs; `message` names the
 * offending pool, path, entry or option. Where the operating system reported the failure,
 * `errno` (e.g. `'ENOSPC'`), `syscall` and `path` say which call failed on which file.
 */
export class ShelfError extends Error {
  readonly code: ShelfErrorCode;
  errno?: string;
  syscall?: string;
  path?: string;
  constructor(code: ShelfErrorCode, message: string, extra?: { errno?: string; syscall?: string; path?: string }) {
    super(message);
    this.name = 'ShelfError';
    this.code = code;
    if (extra?.errno !== undefined) this.errno = extra.errno;
    if (extra?.syscall !== undefined) this.syscall = extra.syscall;
    if (extra?.path !== undefined) this.path = extra.path;
  }
}

/** Largest single view the engine hands out: Node 20 caps one external ArrayBuffer at 4 GiB. */
export const MAX_VIEW_BYTES = 2 ** 32;
/** Extents smaller than a page are aligned to this many bytes. */
export const MIN_ALIGN = 64;
/** Extents of a page or more are page-aligned. */
export const PAGE_SIZE = 4096;
/** Longest entry name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;
/** Largest meta blob stored with one entry. */
export const MAX_META_BYTES = 1 << 20;

export type Layout = 'pair' | 'single';

export interface PoolOptions {
  /** Size of the region in bytes. Required to create a pool; ignored when opening one. */
  size?: number;
  /** Create the pool when it does not exist (default `true`). When `false`, a missing pool is `ESHELF_NOT_FOUND`. */
  create?: boolean;
  /** Erase any existing pool at this path and create a new one (needs `size`). */
  forceNew?: boolean;
  /**
   * Open for reading only (shared lock): any number of readers coexist with one writer and see whole committed batches
   * ({@link Pool.refresh} picks up new ones). The mapping is private copy-on-write, so a stray store stays local.
   */
  readOnly?: boolean;
  /** `'pair'` (default for files): `PATH.data` + `PATH.map`. `'single'`: one file, index in a reserved head (forced for character devices). */
  layout?: Layout;
  /** Single layout only: bytes reserved for each of the two index-log halves (default: size/64, clamped to [64 KiB, 256 MiB]). */
  logSize?: number;
  /** Virtual address space reserved for in-place growth (default: max(4 × size, 64 GiB)). */
  maxSize?: number;
}

/** A named, committed extent. `meta` is a copy of the bytes committed with it. */
export interface Entry {
  name: string;
  offset: number;
  length: number;
  meta: Buffer;
  /** Sequence number of the batch that last put this entry. */
  seq: number;
}

/** One operation of an atomic batch. */
export type Op =
  | { type: 'put'; name: string; offset: number; length: number; meta?: Uint8Array }
  | { type: 'erase'; name: string };

export type Medium = 'file' | 'tmpfs' | 'dax' | 'devdax';

export interface PoolStats {
  /** Region size in bytes (what `grow` extends). */
  size: number;
  /** First usable offset of the region (the header lies below it). */
  dataStart: number;
  /** Bytes in named extents. */
  used: number;
  /** Bytes in allocations not yet committed under a name. */
  reserved: number;
  /** Bytes freed by erase/replace that live views still reference. */
  pinned: number;
  /** Bytes available to `alloc`. */
  free: number;
  /** Largest single free extent. */
  largestFree: number;
  /** 1 − largestFree/free: 0 means all free space is one extent. */
  fragmentation: number;
  /** Named entries. */
  entries: number;
  /** Sequence number of the last applied batch. */
  seq: number;
  /** Bytes of index log on disk, and the bytes a compacted log would need. */
  logBytes: number;
  liveLogBytes: number;
  /** What the pool lives on, and how `persist` reaches durability on it. */
  medium: Medium;
  persistMethod: 'msync' | 'clwb' | 'clflushopt' | 'clflush' | 'fence';
  /** False on tmpfs (/dev/shm): the pool survives processes, not power. */
  durable: boolean;
  /** Live views handed out and not yet collected. */
  views: number;
  layout: Layout;
  readOnly: boolean;
}

/** The compiled addon's surface. Internal: use {@link Pool}. */
interface NativePool {
  alloc(length: number): number;
  release(offset: number): void;
  commit(ops: Op[]): number;
  get(name: string): Entry | null;
  has(name: string): boolean;
  names(prefix: string): string[];
  entries(prefix: string): Entry[];
  view(offset: number, length: number): ArrayBuffer;
  persist(offset: number, length: number): void;
  write(offset: number, data: ArrayBufferView | ArrayBuffer): void;
  read(offset: number, length: number): Buffer;
  copy(source: number, target: number, length: number): void;
  zero(offset: number, length: number): void;
  advise(offset: number, length: number, advice: string): void;
  unview(view: ArrayBuffer): boolean;
  grow(size: number): void;
  refresh(): boolean;
  compact(): void;
  stats(): PoolStats;
  close(): void;
  readonly closed: boolean;
}

interface NativeBinding {
  init(errorFactory: (code: string, message: string, errno?: string, syscall?: string, path?: string) => Error): void;
  openPool(path: string, opts: Required<Omit<PoolOptions, 'logSize' | 'maxSize'>> & { logSize: number; maxSize: number }): NativePool;
  destroyPool(path: string, layout: string): void;
  poolExists(path: string, layout: string): boolean;
  crc32c(data: Uint8Array, seed?: number): number;
  /** Test-only fault injection (see test/ and docs/reliability.md). */
  testing: {
    injectFault(syscall: string, errno: string, after: number, count: number): void;
    clearFaults(): void;
  };
  debugLevel(level?: number): number;
}

export const binding: NativeBinding = load(path.join(__dirname, '..'));
binding.init((code, message, errno, syscall, p) =>
  new ShelfError(code as ShelfErrorCode, message, { errno, syscall, path: p }));

const KNOWN_OPTIONS = new Set(['size', 'create', 'forceNew', 'readOnly', 'layout', 'logSize', 'maxSize']);

function checkSize(name: string, v: unknown, required: boolean): number {
  if (v === undefined) {
    if (required) throw new TypeError(`Expected the "${name}" option`);
    return 0;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new RangeError(`Expected the "${name}" option to be a positive safe integer (bytes), got ${String(v)}`);
  }
  return v;
}

function checkBool(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`Expected the "${name}" option to be a boolean`);
  return v;
}

/** Pool name rule: no `/`, no NUL, not `.` or `..`, not empty. */
export function checkPoolPath(p: unknown): string {
  if (typeof p !== 'string') throw new TypeError('Expected the pool path to be a string');
  if (p.length === 0) throw new ShelfError('ESHELF_NAME', 'pool path must not be empty');
  if (p.includes('\0')) throw new ShelfError('ESHELF_NAME', `pool path contains a NUL byte: ${JSON.stringify(p)}`);
  const base = path.basename(p);
  if (base === '' || base === '.' || base === '..' || p.endsWith('/')) {
    throw new ShelfError('ESHELF_NAME', `pool name must not be empty, "." or "..": ${JSON.stringify(p)}`);
  }
  return p;
}

/**
 * A persistent pool: map, allocate, name, persist, commit, recover, lock.
 *
 * One writer per pool at a time (an exclusive `flock` on the .map; an OFD byte lock in the single layout), any number
 * of read-only openers alongside it. A reader sees whole committed batches only; {@link Pool.refresh} picks up new ones.
 * Note for readers: once the writer erases an entry, it may reuse that space, so bytes a reader reads under a name
 * are only trusted if that name is still committed at the reader's next `refresh()`.
 * Every method throws {@link ShelfError} `ESHELF_CLOSED` after {@link Pool.close}.
 */
export class Pool {
  /** Path without extension (`DIR/NAME`) for the pair layout, or the file/device path for the single layout. */
  readonly path: string;
  readonly layout: Layout;
  readonly readOnly: boolean;
  private readonly native: NativePool;

  private constructor(p: string, layout: Layout, readOnly: boolean, native: NativePool) {
    this.path = p;
    this.layout = layout;
    this.readOnly = readOnly;
    this.native = native;
  }

  /**
   * Open the pool at `path`, creating it (with `options.size` bytes) when it does not exist.
   * Recovery runs here: the index log is replayed, a torn tail is ignored (and truncated when writable),
   * and the allocator is rebuilt from the live entries.
   *
   * Errors: `ESHELF_NOT_FOUND` (missing and `create: false` or no `size`), `ESHELF_LOCKED`, `ESHELF_CORRUPT`,
   * `ESHELF_FULL` (space could not be reserved), `ESHELF_NAME` (bad pool name), `ESHELF_IO`.
   */
  static open(p: string, options: PoolOptions = {}): Pool {
    checkPoolPath(p);
    if (options === null || typeof options !== 'object') throw new TypeError('Expected the options to be an object');
    for (const k of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(k)) throw new TypeError(`Unknown option "${k}" (expected one of: ${[...KNOWN_OPTIONS].join(', ')})`);
    }
    const forceNew = checkBool('forceNew', options.forceNew, false);
    const readOnly = checkBool('readOnly', options.readOnly, false);
    const create = checkBool('create', options.create, true);
    if (forceNew && readOnly) throw new TypeError('The "forceNew" and "readOnly" options cannot be combined');
    const size = checkSize('size', options.size, forceNew);
    const layout = options.layout ?? 'pair';
    if (layout !== 'pair' && layout !== 'single') throw new TypeError('Expected the "layout" option to be "pair" or "single"');
    const logSize = checkSize('logSize', options.logSize, false);
    const maxSize = checkSize('maxSize', options.maxSize, false);
    const native = binding.openPool(path.resolve(p), { size, create, forceNew, readOnly, layout, logSize, maxSize });
    return new Pool(p, layout, readOnly, native);
  }

  /** True when a pool exists at `path` (both files for the pair layout). */
  static exists(p: string, layout: Layout = 'pair'): boolean {
    checkPoolPath(p);
    return binding.poolExists(path.resolve(p), layout);
  }

  /** Remove a pool's files. Fails with `ESHELF_LOCKED` while anyone has it open. */
  static destroy(p: string, layout: Layout = 'pair'): void {
    checkPoolPath(p);
    binding.destroyPool(path.resolve(p), layout);
  }

  /** The files of this pool. */
  get files(): string[] {
    return this.layout === 'pair' ? [`${this.path}.data`, `${this.path}.map`] : [this.path];
  }

  get closed(): boolean {
    return this.native.closed;
  }

  /** Region size in bytes. */
  get size(): number {
    return this.native.stats().size;
  }

  /**
   * Reserve `length` bytes (≥ 1). The extent is 64-byte aligned, page-aligned when `length` ≥ 4096,
   * and zero-filled only if never used before — callers that need zeros must fill it.
   * It belongs to this process until it is named by {@link commit} or given back with {@link release};
   * an allocation never committed is reclaimed at the next open.
   * Errors: `ESHELF_FULL` (no free extent large enough; the message says how much is pinned by live views).
   */
  alloc(length: number): number {
    return this.native.alloc(length);
  }

  /** Give back an allocation that was never committed. Its memory is reused once no view references it. */
  release(offset: number): void {
    this.native.release(offset);
  }

  /**
   * Apply `ops` as one atomic batch and make it durable. Every `put` names an extent obtained from
   * {@link alloc} (or the extent the name already has, to change only its meta); its data is persisted
   * before the batch is written. A `put` over an existing name replaces it: the old extent is freed once
   * the batch is durable and no view references it. `erase` of a missing name is `ESHELF_NOT_FOUND`.
   * Returns the batch sequence number. Nothing of the batch is visible if it throws.
   */
  commit(ops: Op[]): number {
    return this.native.commit(ops);
  }

  /** The committed entry `name`, or `null`. */
  get(name: string): Entry | null {
    return this.native.get(name);
  }

  has(name: string): boolean {
    return this.native.has(name);
  }

  /** Names of committed entries starting with `prefix`, sorted by UTF-8 bytes. */
  names(prefix = ''): string[] {
    return this.native.names(prefix);
  }

  /** Committed entries starting with `prefix`, sorted by name. */
  entries(prefix = ''): Entry[] {
    return this.native.entries(prefix);
  }

  /**
   * A zero-copy view of `length` bytes at `offset` (at most {@link MAX_VIEW_BYTES}), which must lie inside one
   * allocated or named extent. While a view of exactly this range is alive, the same `ArrayBuffer` is returned again.
   * Valid until {@link close} (then detached: length 0). A read-only pool is mapped copy-on-write: a store through
   * its views stays in this process and never reaches the pool (and never faults).
   */
  view(offset: number, length: number): ArrayBuffer {
    return this.native.view(offset, length);
  }

  /**
   * Copy `data` into the pool at `offset` (inside one allocated or named extent). Unlike writing through
   * a {@link view}, this creates no view, so nothing stays pinned until garbage collection.
   * The bytes are not durable until {@link persist} or a {@link commit} that names a new extent.
   */
  write(offset: number, data: ArrayBufferView | ArrayBuffer): void {
    this.native.write(offset, data);
  }

  /**
   * Make `length` bytes at `offset` (inside one extent) read as zeros. Whole pages are zeroed by the file
   * system (`FALLOC_FL_ZERO_RANGE`) without writing data, so zeroing a fresh multi-GiB extent is cheap.
   */
  zero(offset: number, length: number): void {
    this.native.zero(offset, length);
  }

  /**
   * Pass a paging hint for `length` bytes at `offset` (inside one extent). `'dontneed'` drops the pages from this
   * process's memory — the data stays in the file (page cache or medium) and is read back on the next access — so
   * streaming over an array larger than RAM keeps the resident set small. `'willneed'`, `'sequential'`, `'random'`
   * and `'normal'` are the madvise hints of the same names. On a read-only pool `'dontneed'` does nothing.
   */
  advise(offset: number, length: number, advice: 'dontneed' | 'willneed' | 'sequential' | 'random' | 'normal'): void {
    this.native.advise(offset, length, advice);
  }

  /**
   * Release a view now instead of at garbage collection: it is detached (length 0 from here on) and stops
   * pinning its extent. Use it for temporary views. If {@link view} handed the same buffer out more than once
   * (a live view of the same range is reused), only one claim is released and the buffer stays attached until
   * the last one is. Returns false if `view` is not a live view of this pool.
   */
  unview(view: ArrayBuffer): boolean {
    return this.native.unview(view);
  }

  /** Copy `length` bytes from offset `source` to offset `target` of the pool (each inside one extent), with no view. */
  copy(source: number, target: number, length: number): void {
    this.native.copy(source, target, length);
  }

  /** Copy `length` bytes at `offset` (inside one extent) into a new Buffer. */
  read(offset: number, length: number): Buffer {
    return this.native.read(offset, length);
  }

  /**
   * Make `length` bytes at `offset` durable: `msync(MS_SYNC)` of the covering pages on file mappings,
   * cache-line flushes and one fence on DAX, a fence only on tmpfs.
   */
  persist(offset: number, length: number): void {
    this.native.persist(offset, length);
  }

  /** Extend the region to `size` bytes in place. Views handed out before stay valid. */
  grow(size: number): void {
    this.native.grow(size);
  }

  /** Read-only pools: apply batches committed by the writer since open. Returns true if anything changed. */
  refresh(): boolean {
    return this.native.refresh();
  }

  /** Rewrite the index log with only live entries (the engine also does this by itself once the log is past twice its live size and 64 KiB). */
  compact(): void {
    this.native.compact();
  }

  stats(): PoolStats {
    return this.native.stats();
  }

  /** Detach every view, unmap, unlock and close. Idempotent. */
  close(): void {
    this.native.close();
  }
}

/** CRC32C (Castagnoli) of `data`, as used in the on-disk format. */
export function crc32c(data: Uint8Array, seed = 0): number {
  return binding.crc32c(data, seed);
}

/** Set the debug level (0–3); also read from `TSMM_DEBUG` at load. Returns the level in force. */
export function debugLevel(level?: number): number {
  return binding.debugLevel(level);
}
