/**
 * The shelf: {@link shelf} opens one, {@link Shelf} is its API, and a `Proxy` over it gives PyMM's attribute form
 * (`s.x = ...`, `s.x`, `delete s.x`, `Object.keys(s)`, `'x' in s`).
 *
 * View lifetimes, for every value the shelf hands out that views its memory (ndarrays, typed arrays, Buffers, ArrayBuffers,
 * DataViews, and the arrays inside `load()` results): the view reads and writes shelf memory directly, with no copy. It stays
 * valid until the shelf is closed; `close()` detaches it (length 0: reads see nothing, never stale or unmapped memory).
 * Erasing or replacing the variable does not invalidate a view you still hold: the memory is not reused while it is
 * referenced. To keep values past `close()`, copy them (`a.data.slice()`, `Buffer.from(buf)`). Structured values (objects,
 * Maps, Dates, ...) and scalars are copies and never detach.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import { Pool, ShelfError, type PoolStats } from '@tsmm/native';
import './codecs/builtin';
import { DTYPE_CTORS, DTYPES } from './dtypes';
import { debug } from './debug';
import { decodeMeta } from './meta';
import { checkShelfName, variableNameProblem } from './names';
import { mibToBytes, parseOptions, type ShelfOptions } from './options';
import { ShelfTable, type ShelfRecord } from './inspect';
import { load, save } from './save_load';
import { ShelfCore } from './store';
import { recoverTx, runTx, txAbort, txBegin, txEnd } from './tx';

const cores = new WeakMap<object, ShelfCore>();
const TOKEN: unique symbol = Symbol('tsmm.shelf');

/** The ShelfCore behind a shelf (its Proxy or its target). TypeError for anything else. */
export function coreOf(s: unknown): ShelfCore {
  const c = typeof s === 'object' && s !== null ? cores.get(s) : undefined;
  if (c === undefined) throw new TypeError('Expected a shelf (open one with shelf())');
  return c;
}

/** Variables read and written as properties: `s.x`, `s.x = value`. */
export interface ShelfVariables {
  [name: string]: any;
}

/**
 * A persistent shelf: named variables in persistent memory, available at once after a re-open.
 *
 * Open one with {@link shelf}, which returns this class wrapped in a Proxy so that variables read and write as properties.
 * Every method throws `ESHELF_CLOSED` after {@link Shelf.close} (except `close` itself and `closed`).
 * Member names (everything on this prototype chain) cannot be variable names.
 */
export class Shelf {
  /** @internal Use {@link shelf}. */
  constructor(token: symbol) {
    if (token !== TOKEN) throw new TypeError('Shelf cannot be constructed directly: open one with shelf(name, options)');
  }

  /** The shelf's name. */
  get name(): string {
    return coreOf(this).name;
  }

  /** The pool path without extension: `pmemPath/name` (files `.data` and `.map`). */
  get path(): string {
    return coreOf(this).pool.path;
  }

  /** True when opened with `readOnly`. */
  get readOnly(): boolean {
    return coreOf(this).readOnly;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return coreOf(this).closed;
  }

  /** Names of the variables on the shelf, sorted (PyMM's `s.items`). Same as `Object.keys(s)`. */
  get items(): string[] {
    return coreOf(this).userNames();
  }

  /** Memory in use, as a whole percentage of the shelf's capacity (rounded up: any use shows as at least 1). */
  get used(): number {
    const c = coreOf(this);
    c.checkOpen();
    const st = c.pool.stats();
    return st.size === 0 ? 0 : Math.ceil((100 * st.used) / st.size);
  }

  /** Engine statistics of the shelf's pool (sizes, free space, fragmentation, medium, ...). */
  stats(): PoolStats {
    const c = coreOf(this);
    c.checkOpen();
    return c.pool.stats();
  }

  /**
   * Put `value` on the shelf as `name` (same as `s[name] = value`). The value is copied (an {@link ndarray} declaration is
   * allocated, zero-filled). `ESHELF_EXISTS` if the name is taken (erase it or use {@link replace}); `ESHELF_TYPE` for
   * values no codec stores; `ESHELF_FULL` when there is no room (nothing is written); `ESHELF_NAME` for reserved or
   * invalid names. Inside a transaction the put is deferred to its end.
   */
  put(name: string, value: unknown): void {
    coreOf(this).put(name, value, 'put');
  }

  /**
   * Read variable `name` (same as `s[name]`, which returns `undefined` instead of throwing for a missing name).
   * Arrays and byte values are zero-copy views (see the module doc for their lifetime); other values are copies.
   * `ESHELF_NOT_FOUND` if absent.
   */
  get<T = any>(name: string): T {
    return coreOf(this).get(name) as T;
  }

  /** True when variable `name` exists (same as `name in s` for non-member names). */
  has(name: string): boolean {
    return coreOf(this).has(name);
  }

  /**
   * Erase variable `name` (same as `delete s[name]`); erasing a saved structure erases all of it. Views already handed
   * out stay valid until dropped or the shelf closes. `ESHELF_NOT_FOUND` if absent. Inside a transaction the erase is
   * deferred to its end.
   *
   * When the memory comes back: the extent is reused once no view of it is reachable, which the engine learns when V8
   * collects the views and the event loop turns (finalizers run from the event loop). A synchronous loop that erases and
   * re-creates large variables can therefore meet `ESHELF_FULL` (the message says how much is "held by live views");
   * let the event loop turn (`await new Promise(setImmediate)`) between iterations.
   */
  erase(name: string): void {
    coreOf(this).erase(name);
  }

  /**
   * Replace variable `name` with `value`, crash-atomically: the new value is written to new memory and committed over the
   * name in one batch, so the old value stays whole until then. Creates the variable if it does not exist.
   * Views of the old value stay valid (they keep the old memory) until dropped; the old memory is reused as for
   * {@link erase}. Needs room for both values at once.
   */
  replace(name: string, value: unknown): void {
    coreOf(this).put(name, value, 'replace');
  }

  /** Make every variable's memory durable (flush all in-place changes). */
  persist(): void {
    const c = coreOf(this);
    c.checkOpen();
    if (c.readOnly) return;
    const ranges = c.allEntries().filter((e) => e.length > 0).map((e) => [e.offset, e.offset + e.length]).sort((a, b) => a[0] - b[0]);
    let cur: number[] | null = null;
    for (const r of ranges) {
      if (cur !== null && r[0] <= cur[1]) cur[1] = Math.max(cur[1], r[1]);
      else {
        if (cur !== null) c.pool.persist(cur[0], cur[1] - cur[0]);
        cur = [r[0], r[1]];
      }
    }
    if (cur !== null) c.pool.persist(cur[0], cur[1] - cur[0]);
  }

  /** One record per variable (name, kind, dtype, shape, bytes, offset); prints as a table. */
  inspect(): ShelfTable {
    const c = coreOf(this);
    const out = new ShelfTable();
    for (const name of c.userNames()) {
      const e = c.entry(name)!;
      const { kind, header } = decodeMeta(e.meta, `'${name}'`);
      out.push(recordOf(name, kind, header, e.length, e.offset));
    }
    return out;
  }

  /** Enlarge the shelf to `sizeMb` MiB, in place: views already handed out stay valid. */
  grow(sizeMb: number): void {
    const c = coreOf(this);
    c.checkWritable('grow');
    const bytes = mibToBytes('sizeMb', sizeMb);
    const now = c.pool.size;
    if (bytes <= now) throw new RangeError(`grow(${sizeMb}) would not enlarge shelf '${c.name}' (now ${now / 2 ** 20} MiB)`);
    c.pool.grow(bytes);
    debug(1, `grew '${c.name}' to ${bytes} bytes`);
  }

  /**
   * Read-only shelves: see what the writer committed since the last refresh (new, replaced and erased variables). Values
   * cached for changed names are dropped. Returns true when anything changed. A no-op (false) on a writable shelf.
   * A reader's views do not pin memory in the writer's process: after the writer erases or replaces a variable, a view
   * the reader still holds may show whatever the writer puts in that memory next — refresh and read the name again.
   */
  refresh(): boolean {
    const c = coreOf(this);
    c.checkOpen();
    if (!c.readOnly) return false;
    const changed = c.pool.refresh();
    if (changed) c.dropStale();
    return changed;
  }

  /**
   * Close the shelf: every view it handed out is detached (length 0) and the lock is released. Idempotent. An open
   * transaction is rolled back. Hooks registered by other packages (`internals(s).onClose`) run first and may refuse with
   * `ESHELF_BUSY`; `{force: true}` closes anyway.
   */
  close(options: { force?: boolean } = {}): void {
    const c = coreOf(this);
    if (c.closed) return;
    if (options === null || typeof options !== 'object') throw new TypeError('Expected the close options to be an object');
    for (const k of Object.keys(options)) if (k !== 'force') throw new TypeError(`Unknown option "${k}" (expected: force)`);
    const force = options.force === true;
    for (const hook of c.closeHooks) {
      try {
        hook({ force });
      } catch (e) {
        if (!force) throw e;
        debug(1, `close hook failed on forced close of '${c.name}': ${(e as Error).message}`);
      }
    }
    if (c.tx !== null) {
      try {
        txAbort(c);
        debug(1, `closing '${c.name}' rolled back its open transaction`);
      } catch (e) {
        debug(1, `closing '${c.name}': rollback failed (${(e as Error).message}); the next open recovers it`);
      }
    }
    c.clearCache();
    c.pool.close();
    debug(1, `closed '${c.name}'`);
  }

  /**
   * Run `body` as a transaction over the variables `names`: they are copied to undo memory first; if `body` throws (or
   * its promise rejects) they are restored and the error rethrown; if the process dies inside `body`, the next open
   * restores them. Puts, replaces and erases made inside `body` take effect atomically when it returns.
   * `ESHELF_TX` if a transaction is already open (transactions do not nest); `ESHELF_FULL` (before `body` runs) when the
   * undo copies do not fit. The undo memory is freed at the end and is reusable once the event loop has turned (see
   * {@link erase}): in a synchronous loop of large transactions, yield between iterations.
   * @returns what `body` returns
   */
  tx<T>(names: string | readonly string[], body: () => T): T {
    return runTx(coreOf(this), names, body);
  }

  /** Begin a transaction over `names` (see {@link tx}); end it with {@link txEnd} or {@link txAbort}. */
  txBegin(names: string | readonly string[]): void {
    txBegin(coreOf(this), names);
  }

  /** Commit the open transaction: its in-place changes are persisted and its deferred operations applied, atomically. */
  txEnd(): void {
    txEnd(coreOf(this));
  }

  /** Roll back the open transaction: restore its variables and drop its deferred operations. */
  txAbort(): void {
    txAbort(coreOf(this));
  }

  /**
   * Save a nested structure (objects, arrays, Maps of shelf-able values) under `prefix`, atomically replacing whatever was
   * saved there before. Arrays and other binary values become entries of their own (`prefix/...`).
   */
  save(value: unknown, prefix: string): void {
    save(coreOf(this), value, prefix);
  }

  /** Load the structure saved under `prefix`; arrays come back as shelf views (no copies). */
  load<T = any>(prefix: string): T {
    return load(coreOf(this), prefix) as T;
  }

  /** `Shelf(name)`. */
  toString(): string {
    return `Shelf(${coreOf(this).name})`;
  }

  /** What `console.log(s)` prints: the shelf, its path, usage and variables (kind, dtype, shape). */
  [util.inspect.custom](depth: number, opts: util.InspectOptionsStylized): string {
    const c = coreOf(this);
    if (c.closed) return `Shelf '${c.name}' (closed)`;
    const recs = this.inspect();
    const vars = recs.map((r) => `${r.name}: ${r.kind}${r.dtype ? `<${r.dtype}>` : ''}${r.shape.length ? `[${r.shape.join(',')}]` : ''}`);
    return `Shelf '${c.name}' (${c.pool.path}, ${this.used}% used${c.readOnly ? ', readOnly' : ''}) { ${vars.join(', ')} }`;
  }
}

function recordOf(name: string, kind: string, h: Record<string, unknown>, bytes: number, offset: number): ShelfRecord {
  let dtype = '';
  let shape: number[] = [];
  const isShape = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => typeof n === 'number');
  if (typeof h.dtype === 'string') dtype = h.dtype;
  if (isShape(h.shape)) shape = h.shape.slice();
  if (kind === 'typed') {
    dtype = DTYPES.find((d) => DTYPE_CTORS[d].name === h.type) ?? String(h.type);
    shape = [typeof h.length === 'number' ? h.length : 0];
  } else if (kind === 'bytes') {
    dtype = 'uint8';
    shape = [bytes];
  } else if (kind === 'scalar') {
    dtype = String(h.type);
  }
  return { name, kind, dtype, shape, bytes, offset: bytes > 0 ? offset : 0 };
}

function reservedError(prop: string): ShelfError {
  return new ShelfError('ESHELF_NAME', variableNameProblem(prop, Shelf.prototype) ?? `'${prop}' cannot be used as a variable name`);
}

const handler: ProxyHandler<Shelf> = {
  get(target, prop, receiver) {
    if (typeof prop === 'symbol' || prop in target) return Reflect.get(target, prop, receiver);
    const c = coreOf(target);
    if (prop === 'then' && (c.closed || !c.has('then'))) return undefined; // never look thenable by accident
    return c.getAttr(prop);
  },
  set(target, prop, value, receiver) {
    if (typeof prop === 'symbol') return Reflect.set(target, prop, value, receiver);
    if (prop in target) throw reservedError(prop);
    coreOf(target).put(prop, value, 'put');
    return true;
  },
  has(target, prop) {
    if (typeof prop === 'symbol' || prop in target) return Reflect.has(target, prop);
    return coreOf(target).has(prop);
  },
  deleteProperty(target, prop) {
    if (typeof prop === 'symbol') return Reflect.deleteProperty(target, prop);
    if (prop in target) throw reservedError(prop);
    coreOf(target).erase(prop);
    return true;
  },
  ownKeys(target) {
    return [...coreOf(target).userNames(), ...Reflect.ownKeys(target)];
  },
  getOwnPropertyDescriptor(target, prop) {
    if (typeof prop === 'symbol') return Reflect.getOwnPropertyDescriptor(target, prop);
    const c = coreOf(target);
    if (!c.has(prop)) return Reflect.getOwnPropertyDescriptor(target, prop);
    // An accessor, so that Object.keys / for-in / spread checks do not decode every value.
    return {
      get: () => c.getAttr(prop),
      set: (v: unknown) => c.put(prop, v, 'put'),
      enumerable: true,
      configurable: true,
    };
  },
  defineProperty(target, prop, desc) {
    if (typeof prop === 'symbol') return Reflect.defineProperty(target, prop, desc);
    if (prop in target) throw reservedError(prop);
    if (!('value' in desc) || desc.get !== undefined || desc.set !== undefined) {
      throw new TypeError(`Shelf variables are data, not accessors: assign s.${prop} = value`);
    }
    coreOf(target).put(prop, desc.value, 'put');
    return true;
  },
};

/**
 * Open the shelf `name` (creating it when it does not exist and `sizeMb` is given), as PyMM's `pymm.shelf`.
 * Every variable on an existing shelf is available at once; nothing is loaded or copied. A transaction interrupted by a
 * crash is rolled back here, before this returns.
 *
 * The files are `path.join(pmemPath, name) + '.data'` and `'.map'`. Errors: TypeError for unknown or misspelled options;
 * `ESHELF_NOT_FOUND` when the shelf does not exist and no `sizeMb` is given; `ESHELF_LOCKED` when another process has it
 * open for writing; `ESHELF_NAME` for a bad name; `ESHELF_FULL` when the space cannot be reserved; `ESHELF_IO`, `ESHELF_CORRUPT`.
 *
 * @example
 * const s = shelf('myShelf', { sizeMb: 1024, pmemPath: '/mnt/pmem0', forceNew: true });
 * s.x = ndarray([1000, 1000], 'int64');
 */
export function shelf<V extends object = ShelfVariables>(name: string, options?: ShelfOptions): Shelf & V {
  checkShelfName(name);
  const o = parseOptions(options);
  const poolPath = path.join(o.pmemPath, name);
  if (!o.forceNew && (o.sizeBytes === undefined || o.readOnly) && !Pool.exists(poolPath)) {
    let why = o.readOnly ? 'readOnly cannot create it' : 'pass sizeMb to create it';
    if (!fs.existsSync(o.pmemPath)) why = `the directory ${o.pmemPath} does not exist`;
    throw new ShelfError('ESHELF_NOT_FOUND', `shelf '${name}' does not exist in ${o.pmemPath} (${why})`);
  }
  const pool = Pool.open(poolPath, {
    size: o.sizeBytes, create: !o.readOnly, forceNew: o.forceNew, readOnly: o.readOnly,
  });
  try {
    if (!o.readOnly) recoverTx(pool, name);
    else if (pool.has('.tx/active')) debug(1, `shelf '${name}' opened readOnly while a transaction is open or interrupted: its variables may be mid-change`);
  } catch (e) {
    pool.close();
    throw e;
  }
  const target = new Shelf(TOKEN);
  const core = new ShelfCore(pool, name, o.pmemPath, o.readOnly, Shelf.prototype);
  const proxy = new Proxy(target, handler);
  core.proxy = proxy;
  cores.set(target, core);
  cores.set(proxy, core);
  debug(1, `opened shelf '${name}' at ${poolPath}${o.readOnly ? ' (readOnly)' : ''}: ${pool.stats().entries} entries`);
  return proxy as Shelf & V;
}
