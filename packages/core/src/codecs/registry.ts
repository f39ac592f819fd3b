/**
 * The codec registry: how a value kind is put on a shelf and read back.
 *
 * Core ships codecs for ndarrays, typed arrays, bytes, scalars and structured (v8-serialised) values. Other packages add
 * kinds with {@link registerShelfType} without core importing them (tfjs-backend adds `tfjs.tensor`). When a value is put,
 * registered codecs are tried before the built-ins, the last registered first; the first whose `test` accepts the value
 * stores it, and its `kind` is recorded in the entry's meta so that `read` can be found again after a re-open.
 */
import type { Shelf } from '../shelf';
import type { ShelfRegion } from '../region';

/** What {@link ShelfCodec.plan} returns: the extent size to allocate and the JSON header to store in the meta. */
export interface ShelfPlan {
  byteLength: number;
  header: Record<string, unknown>;
}

/** Context given to {@link ShelfCodec.read}. `shelf` is the shelf the entry lives on; `name` the variable name. */
export interface ShelfReadContext {
  shelf: Shelf;
  name: string;
}

/**
 * A value kind that can live on a shelf.
 *
 * Lifetimes: `read` receives a {@link ShelfRegion} whose views are zero-copy and valid until the shelf closes; a codec
 * that returns a view (as the built-in array codecs do) hands that lifetime to the caller. Return a copy instead to get a
 * value that survives `close()` (the v8 codec does).
 */
export interface ShelfCodec<T = unknown> {
  /** Unique kind, stored in the entry meta (e.g. `'tfjs.tensor'`). Must not start with `tx.` or be `tree`. */
  readonly kind: string;
  /** True when this codec stores `value`. */
  test(value: unknown): boolean;
  /** Size of the extent to allocate (0 for a meta-only entry) and the header describing the value (JSON-serialisable). */
  plan(value: T): ShelfPlan;
  /** Fill the new extent `dest` (exactly `plan().byteLength` bytes) before it is committed. Not called for empty extents. */
  write(value: T, dest: Uint8Array, header: Record<string, unknown>): void;
  /** Rebuild the value from its header and extent. */
  read(header: Record<string, unknown>, region: ShelfRegion, ctx: ShelfReadContext): T;
  /**
   * Optional: fill the new extent through its region instead of one `Uint8Array`. Core calls this instead of `write`
   * when present; it is required for extents larger than 4 GiB. (Extension beyond CONTRACTS.md.)
   */
  writeRegion?(value: T, region: ShelfRegion, header: Record<string, unknown>): void;
  /**
   * Optional, default `true`: core keeps the value `read` returned and hands the same object back on the next access
   * of the name until the entry changes. Set to `false` for codecs that return copies (each access gets a fresh copy).
   * (Extension beyond CONTRACTS.md.)
   */
  readonly cache?: boolean;
}

const RESERVED_KINDS = new Set(['tree', 'tx.undo', 'tx.active']);

const registered: ShelfCodec<any>[] = [];
const builtins: ShelfCodec<any>[] = [];

function checkCodec(codec: ShelfCodec<any>): void {
  if (codec === null || typeof codec !== 'object') throw new TypeError('Expected the codec to be an object');
  if (typeof codec.kind !== 'string' || codec.kind.length === 0) throw new TypeError('Expected the codec "kind" to be a non-empty string');
  if (RESERVED_KINDS.has(codec.kind)) throw new TypeError(`The codec kind "${codec.kind}" is reserved by @tsmm/core`);
  for (const m of ['test', 'plan', 'write', 'read'] as const) {
    if (typeof codec[m] !== 'function') throw new TypeError(`Expected the codec "${codec.kind}" to have a "${m}" method`);
  }
  if (codec.writeRegion !== undefined && typeof codec.writeRegion !== 'function') {
    throw new TypeError(`Expected the "writeRegion" of codec "${codec.kind}" to be a function`);
  }
}

/**
 * Add a value kind to every shelf of this process. A codec with the same `kind` (registered or built-in) is replaced.
 * Registered codecs are tried before the built-ins, the last registered first.
 */
export function registerShelfType<T>(codec: ShelfCodec<T>): void {
  checkCodec(codec);
  for (const list of [registered, builtins]) {
    const i = list.findIndex((c) => c.kind === codec.kind);
    if (i >= 0) list.splice(i, 1);
  }
  registered.push(codec);
}

/** Internal: add a built-in codec (tried after every registered codec, in the order added). */
export function addBuiltin(codec: ShelfCodec<any>): void {
  checkCodec(codec);
  builtins.push(codec);
}

/** The codec that stores `value`, or `undefined` when no codec accepts it. */
export function codecFor(value: unknown): ShelfCodec<unknown> | undefined {
  for (let i = registered.length - 1; i >= 0; i--) if (registered[i].test(value)) return registered[i];
  for (const c of builtins) if (c.test(value)) return c;
  return undefined;
}

/** The codec of `kind`, or `undefined`. */
export function codecOfKind(kind: string): ShelfCodec<unknown> | undefined {
  for (let i = registered.length - 1; i >= 0; i--) if (registered[i].kind === kind) return registered[i];
  return builtins.find((c) => c.kind === kind);
}

/** Kinds known to this process: registered first (newest first), then built-ins. */
export function shelfTypes(): string[] {
  return [...registered.map((c) => c.kind).reverse(), ...builtins.map((c) => c.kind)];
}
