/**
 * ShelfCore: the state behind one open shelf — its pool, the per-name value cache, the deferred operations of an open
 * transaction — and the put/get/erase/replace logic the `Shelf` facade and its Proxy delegate to.
 *
 * Value cache: the value decoded for a name is kept (for codecs with `cache !== false`) and handed back on the next access
 * until the name changes, so `s.x.set(...)` in a loop does not decode `x` each time. Every commit goes through
 * {@link ShelfCore.commitNow} (or `internals(s).commit`), which drops the cached values of the names it touches; erase,
 * replace and close drop them too; read-only shelves drop changed names on `refresh()`.
 */
import { ShelfError, type Entry, type Op, type Pool } from '@tsmm/native';
import { codecFor, codecOfKind } from './codecs/registry';
import { NonShelfValue } from './codecs/structured';
import { debug, debugOn } from './debug';
import { nonShelfType, withContext } from './errors';
import { decodeMeta, encodeMeta } from './meta';
import { checkVariableName, INTERNAL_PREFIX, variableNameProblem } from './names';
import { PoolRegion } from './region';
import type { Shelf } from './shelf';

/** A put operation of a batch. */
export type PutOp = Extract<Op, { type: 'put' }>;

/** An operation staged for a commit, with the allocation to give back if it never commits. */
export interface Staged {
  op: Op;
  alloc: number | null;
}

/** An operation deferred by an open transaction (last one per name wins). */
export interface Pending {
  type: 'put' | 'erase';
  op?: PutOp;
  alloc?: number | null;
  /** The decoded value, once read inside the transaction. */
  decoded?: { value: unknown };
}

/** One variable copied to an undo extent by `txBegin`. */
export interface UndoRecord {
  name: string;
  /** Offset and length of the variable's extent (restored in place on rollback). */
  target: number;
  length: number;
  /** Offset of the undo copy. */
  undo: number;
  /** Name of the undo entry (`.tx/<id>/<i>`). */
  entryName: string;
}

/** The open transaction of a shelf. */
export interface TxState {
  id: string;
  names: string[];
  undo: UndoRecord[];
  /** Names of every internal entry of this transaction (undo entries and `.tx/active`). */
  internalNames: string[];
  pending: Map<string, Pending>;
}

/** An entry as the core sees it: committed, or pending in a transaction (seq -1). */
export interface EntryLike {
  offset: number;
  length: number;
  meta: Uint8Array;
  seq: number;
}

const NOT_FOUND: unique symbol = Symbol('not found');

/** Sort names by their UTF-8 bytes, as the engine does. */
export function sortNames(names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** Hook to read a saved structure (kind `tree`); set by save_load.ts to keep the import graph one-way. */
export let loadTreeHook: (core: ShelfCore, name: string, header: Record<string, unknown>) => unknown = () => {
  throw new Error('tree loader not installed');
};
export function setLoadTreeHook(f: typeof loadTreeHook): void {
  loadTreeHook = f;
}

export class ShelfCore {
  readonly pool: Pool;
  /** Shelf name (the file name without extension). */
  readonly name: string;
  /** Directory the shelf files live in. */
  readonly dir: string;
  readonly readOnly: boolean;
  /** The Shelf prototype: every name on its chain is reserved. */
  readonly memberProto: object;
  /** The public Proxy of this shelf (handed to codecs as `ctx.shelf`). */
  proxy!: Shelf;
  readonly closeHooks: Array<(opts: { force: boolean }) => void> = [];
  tx: TxState | null = null;
  private readonly cache = new Map<string, { seq: number; value: unknown }>();

  constructor(pool: Pool, name: string, dir: string, readOnly: boolean, memberProto: object) {
    this.pool = pool;
    this.name = name;
    this.dir = dir;
    this.readOnly = readOnly;
    this.memberProto = memberProto;
  }

  // ---- state checks ----

  get closed(): boolean {
    return this.pool.closed;
  }

  /** ESHELF_CLOSED once the shelf is closed. */
  checkOpen(): void {
    if (this.pool.closed) throw new ShelfError('ESHELF_CLOSED', `shelf '${this.name}' is closed`);
  }

  /** ESHELF_READONLY on a read-only shelf. `action` says what was attempted (e.g. "put 'x'"). */
  checkWritable(action: string): void {
    this.checkOpen();
    if (this.readOnly) throw new ShelfError('ESHELF_READONLY', `cannot ${action}: shelf '${this.name}' was opened readOnly`);
  }

  // ---- lookups ----

  /** The entry of `name` as this process sees it (a transaction's deferred operations included), or null. */
  entry(name: string): EntryLike | null {
    const p = this.tx?.pending.get(name);
    if (p !== undefined) return p.type === 'erase' ? null : { offset: p.op!.offset, length: p.op!.length, meta: p.op!.meta ?? new Uint8Array(0), seq: -1 };
    return this.pool.get(name);
  }

  /** Kind of the entry of `name`, or undefined when absent. */
  kindOf(name: string): string | undefined {
    const e = this.entry(name);
    return e === null ? undefined : decodeMeta(e.meta, `'${name}'`).kind;
  }

  /** Names (user names only, not internal ones) starting with `prefix`, including a transaction's deferred puts. */
  userNames(prefix = ''): string[] {
    this.checkOpen();
    const names = new Set(this.pool.names(prefix).filter((n) => !n.startsWith(INTERNAL_PREFIX)));
    if (this.tx !== null) {
      for (const [n, p] of this.tx.pending) {
        if (!n.startsWith(prefix)) continue;
        if (p.type === 'put') names.add(n);
        else names.delete(n);
      }
    }
    return sortNames([...names]);
  }

  /** True when the variable exists. Invalid names are simply absent. */
  has(name: string): boolean {
    this.checkOpen();
    if (variableNameProblem(name, this.memberProto) !== null) return false;
    return this.entry(name) !== null;
  }

  /** The value of `name`; ESHELF_NOT_FOUND when absent. */
  get(name: string): unknown {
    this.checkOpen();
    checkVariableName(name, this.memberProto);
    const v = this.lookup(name);
    if (v === NOT_FOUND) throw new ShelfError('ESHELF_NOT_FOUND', `no variable '${name}' on shelf '${this.name}'`);
    return v;
  }

  /** Attribute read (`s.x`): the value, or undefined when absent or not a valid variable name. */
  getAttr(name: string): unknown {
    this.checkOpen();
    if (variableNameProblem(name, this.memberProto) !== null) return undefined;
    const v = this.lookup(name);
    return v === NOT_FOUND ? undefined : v;
  }

  private lookup(name: string): unknown {
    const p = this.tx?.pending.get(name);
    if (p !== undefined) {
      if (p.type === 'erase') return NOT_FOUND;
      if (p.decoded !== undefined) return p.decoded.value;
      const { value, cacheable } = this.decode(name, this.entry(name)!);
      if (cacheable) p.decoded = { value };
      return value;
    }
    const hit = this.cache.get(name);
    if (hit !== undefined) {
      if (debugOn(3)) debug(3, `get '${name}' (cached, seq ${hit.seq})`);
      return hit.value;
    }
    const e = this.pool.get(name);
    if (e === null) return NOT_FOUND;
    const { value, cacheable } = this.decode(name, e);
    if (cacheable) this.cache.set(name, { seq: e.seq, value });
    return value;
  }

  /** Decode an entry with its codec. */
  decode(name: string, e: EntryLike): { value: unknown; cacheable: boolean } {
    const { kind, header } = decodeMeta(e.meta, `'${name}'`);
    if (debugOn(3)) debug(3, `decode '${name}' kind ${kind} (${e.length} bytes at ${e.offset})`);
    if (kind === 'tree') return { value: loadTreeHook(this, name, header), cacheable: false };
    const codec = codecOfKind(kind);
    if (codec === undefined) {
      throw new ShelfError('ESHELF_TYPE', `'${name}' holds a value of kind '${kind}', which no codec of this process reads ` +
        '(import the package that registers it, e.g. @tsmm/tfjs-backend for tfjs.tensor)');
    }
    try {
      const value = codec.read(header, new PoolRegion(this.pool, e.offset, e.length), { shelf: this.proxy, name });
      return { value, cacheable: codec.cache !== false };
    } catch (err) {
      throw withContext(err, `cannot read '${name}' from shelf '${this.name}'`);
    }
  }

  // ---- writes ----

  /**
   * Allocate and fill the extent of `value` for `name` (not committed). ESHELF_TYPE when no codec stores it;
   * ESHELF_FULL when the shelf has no room. Nothing stays allocated when it throws.
   */
  encode(name: string, value: unknown): Staged {
    const codec = codecFor(value);
    if (codec === undefined) throw nonShelfType(name, value);
    let plan: { byteLength: number; header: Record<string, unknown> };
    try {
      plan = codec.plan(value);
    } catch (e) {
      if (e instanceof NonShelfValue) {
        const err = nonShelfType(name + e.path, e.value);
        if (e.message !== 'non-shelf value') err.message += ` (${e.message})`;
        throw err;
      }
      throw e;
    }
    const len = plan.byteLength;
    if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`codec '${codec.kind}' planned ${String(len)} bytes for '${name}'`);
    const meta = encodeMeta(codec.kind, plan.header);
    if (len === 0) return { op: { type: 'put', name, offset: 0, length: 0, meta }, alloc: null };
    let offset: number;
    try {
      offset = this.pool.alloc(len);
    } catch (e) {
      throw withContext(e, `cannot put '${name}' (${len} bytes) on shelf '${this.name}'`);
    }
    try {
      const region = new PoolRegion(this.pool, offset, len);
      if (codec.writeRegion !== undefined) codec.writeRegion(value, region, plan.header);
      else region.withBytes((bytes) => codec.write(value, bytes, plan.header));
    } catch (e) {
      this.release([offset]);
      throw e;
    }
    if (debugOn(2)) debug(2, `staged '${name}' kind ${codec.kind}, ${len} bytes at ${offset}`);
    return { op: { type: 'put', name, offset, length: len, meta }, alloc: offset };
  }

  /** Give back uncommitted allocations (errors are logged, not thrown: this runs on failure paths). */
  release(allocs: Array<number | null | undefined>): void {
    for (const a of allocs) {
      if (a === null || a === undefined) continue;
      try {
        this.pool.release(a);
      } catch (e) {
        debug(1, `release of ${a} failed: ${(e as Error).message}`);
      }
    }
  }

  /** Drop the cached values of `names`. */
  invalidate(names: Iterable<string>): void {
    for (const n of names) this.cache.delete(n);
  }

  /** Drop every cached value. */
  clearCache(): void {
    this.cache.clear();
  }

  /** Names whose cached values are stale (their entry's seq changed or they are gone); used after refresh(). */
  dropStale(): void {
    for (const [n, c] of this.cache) {
      const e = this.pool.get(n);
      if (e === null || e.seq !== c.seq) this.cache.delete(n);
    }
  }

  /** Commit `staged` now, as one atomic batch; release its allocations if it fails. Returns the batch seq. */
  commitNow(staged: Staged[]): number {
    const ops = staged.map((s) => s.op);
    let seq: number;
    try {
      seq = this.pool.commit(ops);
    } catch (e) {
      this.release(staged.map((s) => s.alloc));
      throw e;
    }
    this.invalidate(ops.map((o) => o.name));
    if (debugOn(2)) debug(2, `commit seq ${seq}: ${ops.map((o) => `${o.type} ${o.name}`).join(', ')}`);
    return seq;
  }

  /** Commit `staged`, or defer it to the end of the open transaction. */
  apply(staged: Staged[]): void {
    if (this.tx === null) {
      this.commitNow(staged);
      return;
    }
    const pending = this.tx.pending;
    for (const s of staged) {
      const prev = pending.get(s.op.name);
      if (prev?.type === 'put') this.release([prev.alloc]);
      if (s.op.type === 'put') pending.set(s.op.name, { type: 'put', op: s.op, alloc: s.alloc });
      else if (this.pool.has(s.op.name)) pending.set(s.op.name, { type: 'erase' });
      else pending.delete(s.op.name);
      if (debugOn(2)) debug(2, `deferred to tx ${this.tx.id}: ${s.op.type} ${s.op.name}`);
    }
  }

  /** Erase ops for the entries of a saved structure under `name/`. */
  treeLeafErases(name: string): Staged[] {
    return this.userNames(`${name}/`).map((n) => ({ op: { type: 'erase', name: n } as Op, alloc: null }));
  }

  /** put (mode 'put': ESHELF_EXISTS if present) or replace (crash-atomic; creates when absent). */
  put(name: string, value: unknown, mode: 'put' | 'replace'): void {
    this.checkOpen();
    checkVariableName(name, this.memberProto);
    this.checkWritable(`${mode} '${name}'`);
    const existing = this.entry(name);
    if (existing !== null && mode === 'put') {
      throw new ShelfError('ESHELF_EXISTS', `'${name}' is already on shelf '${this.name}' and cannot be implicitly overwritten: ` +
        `erase('${name}') it first, or use replace('${name}', value)`);
    }
    const staged = [this.encode(name, value)];
    try {
      if (existing !== null && decodeMeta(existing.meta, `'${name}'`).kind === 'tree') staged.push(...this.treeLeafErases(name));
    } catch (e) {
      this.release([staged[0].alloc]);
      throw e;
    }
    this.apply(staged);
  }

  /** Erase a variable (and, for a saved structure, every entry under `name/`), in one batch. */
  erase(name: string): void {
    this.checkOpen();
    checkVariableName(name, this.memberProto);
    this.checkWritable(`erase '${name}'`);
    const e = this.entry(name);
    if (e === null) throw new ShelfError('ESHELF_NOT_FOUND', `cannot erase '${name}': no such variable on shelf '${this.name}'`);
    const staged: Staged[] = [{ op: { type: 'erase', name }, alloc: null }];
    if (decodeMeta(e.meta, `'${name}'`).kind === 'tree') staged.push(...this.treeLeafErases(name));
    this.apply(staged);
  }

  /** All committed entries, internal ones included (for persist and stats). */
  allEntries(): Entry[] {
    return this.pool.entries('');
  }
}
