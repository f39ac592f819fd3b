/**
 * {@link ShelfRegion}: an extent of a shelf as codecs see it.
 *
 * Lifetime of the views it hands out: a view from `bytes()` or `windows()` points straight into the pool mapping (zero copy).
 * It stays valid until the shelf is closed — `close()` detaches it (length 0, never stale data) — and keeps its memory from
 * being reused while it is alive, even after the entry is erased or replaced. Take a copy (`bytes().slice()`) to keep bytes
 * past `close()`.
 */
import { MAX_VIEW_BYTES, type Pool } from '@tsmm/native';
import { debug, debugOn } from './debug';

/** An extent of a shelf, handed to codecs. */
export interface ShelfRegion {
  /** Byte offset of the extent in the pool (0 for an empty, meta-only entry). */
  readonly offset: number;
  /** Length of the extent in bytes. */
  readonly byteLength: number;
  /**
   * A zero-copy view of the whole extent. RangeError when the extent is larger than 4 GiB (use `windows()`).
   * Detached (length 0) after the shelf is closed.
   */
  bytes(): Uint8Array;
  /** Make `byteLength` bytes from `byteOffset` (relative to the extent) durable. Defaults: the whole extent. */
  persist(byteOffset?: number, byteLength?: number): void;
  /**
   * Zero-copy views of the extent in windows of at most 4 GiB ({@link MAX_VIEW_BYTES}), in order; one window for
   * extents up to 4 GiB, none for an empty extent. Same lifetime as `bytes()`. (Extension beyond CONTRACTS.md.)
   */
  windows(): Uint8Array[];
}

function checkRange(what: string, off: number, len: number, total: number): void {
  if (!Number.isSafeInteger(off) || off < 0) throw new RangeError(`Expected ${what} offset to be a non-negative integer, got ${String(off)}`);
  if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`Expected ${what} length to be a non-negative integer, got ${String(len)}`);
  if (off + len > total) throw new RangeError(`${what} range [${off}, ${off + len}) lies outside the ${total}-byte extent`);
}

/** The {@link ShelfRegion} of `byteLength` bytes at `offset` of `pool`. */
export class PoolRegion implements ShelfRegion {
  readonly offset: number;
  readonly byteLength: number;
  private readonly pool: Pool;

  constructor(pool: Pool, offset: number, byteLength: number) {
    this.pool = pool;
    this.offset = offset;
    this.byteLength = byteLength;
  }

  bytes(): Uint8Array {
    if (this.byteLength === 0) return new Uint8Array(0);
    if (this.byteLength > MAX_VIEW_BYTES) {
      throw new RangeError(`The extent at ${this.offset} is ${this.byteLength} bytes, more than one 4 GiB view: use windows()`);
    }
    return new Uint8Array(this.pool.view(this.offset, this.byteLength));
  }

  windows(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let at = 0; at < this.byteLength; at += MAX_VIEW_BYTES) {
      const n = Math.min(MAX_VIEW_BYTES, this.byteLength - at);
      out.push(new Uint8Array(this.pool.view(this.offset + at, n)));
    }
    return out;
  }

  /** Copy `src` into the extent at byte `at` without creating a view (nothing stays pinned). */
  writeAt(at: number, src: Uint8Array): void {
    checkRange('write', at, src.byteLength, this.byteLength);
    if (src.byteLength > 0) this.pool.write(this.offset + at, src);
  }

  /** Pass a paging hint for `byteLength` bytes from `byteOffset` of the extent (see `Pool.advise`). */
  advise(advice: string, byteOffset = 0, byteLength = this.byteLength - byteOffset): void {
    checkRange('advise', byteOffset, byteLength, this.byteLength);
    this.pool.advise(this.offset + byteOffset, byteLength, advice as 'dontneed');
  }

  /** Zero the whole extent (see {@link zeroRegion}). */
  zero(): void {
    if (this.byteLength > 0) this.pool.zero(this.offset, this.byteLength);
  }

  /**
   * Run `fn` over a temporary view of the whole extent (at most 4 GiB) and release the view right after, so that it
   * does not keep the extent pinned until garbage collection. `fn` must not keep the array.
   */
  withBytes<T>(fn: (bytes: Uint8Array) => T): T {
    if (this.byteLength === 0) return fn(new Uint8Array(0));
    if (this.byteLength > MAX_VIEW_BYTES) return fn(this.bytes());  // throws the RangeError of bytes()
    const ab = this.pool.view(this.offset, this.byteLength);
    try {
      return fn(new Uint8Array(ab));
    } finally {
      this.pool.unview(ab);
    }
  }

  persist(byteOffset = 0, byteLength?: number): void {
    const len = byteLength ?? this.byteLength - byteOffset;
    checkRange('persist', byteOffset, len, this.byteLength);
    if (len === 0) return;
    if (debugOn(3)) debug(3, `persist ${len} bytes at ${this.offset + byteOffset}`);
    this.pool.persist(this.offset + byteOffset, len);
  }
}

/**
 * Make every byte of the extent zero. On a {@link PoolRegion} the file system zeroes whole pages without writing data
 * (`Pool.zero`), so a new multi-GiB array costs no I/O; any other region is cleared window by window.
 */
export function zeroRegion(region: ShelfRegion): void {
  if (region instanceof PoolRegion) {
    region.zero();
    return;
  }
  for (const w of region.windows()) w.fill(0);
}

/** Copy `byteLength` bytes between two extents of `pool` inside the mapping (no views, nothing pinned). */
export function copyExtent(pool: Pool, srcOffset: number, dstOffset: number, byteLength: number): void {
  pool.copy(srcOffset, dstOffset, byteLength);
}
