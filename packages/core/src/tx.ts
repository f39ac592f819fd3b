/**
 * Transactions: undo-logged, crash-recoverable groups of in-place changes.
 *
 * `txBegin(names)`: each named variable's extent is copied to a fresh undo extent, and one atomic batch commits the undo
 * entries (`.tx/<id>/<i>`, meta: the variable's name, offset and length) together with `.tx/active`. The engine persists
 * the undo data before the batch. Then the body changes the variables in place.
 *
 * - `txEnd()`: persist the named variables' extents, then commit one batch holding every put/replace/erase the body made
 *   (they were deferred) plus the erasure of the undo entries and `.tx/active`. Before that batch is durable, the
 *   transaction has not happened; after it, all of it has.
 * - `txAbort()` (or an exception in `s.tx(...)`'s body): copy each undo extent back over its variable, persist, drop the
 *   deferred operations, erase the undo entries.
 * - A crash at any point before the end batch is durable leaves `.tx/active`: the next writable open copies the undo
 *   extents back (idempotent, so a crash during recovery is recovered again) and erases them, before `shelf()` returns.
 */
import { ShelfError, type Op, type Pool } from '@tsmm/native';
import { debug } from './debug';
import { decodeMeta, encodeMeta } from './meta';
import { checkVariableName } from './names';
import { copyExtent } from './region';
import type { ShelfCore, Staged, TxState, UndoRecord } from './store';

/** Name of the record of an open transaction. */
export const TX_ACTIVE = '.tx/active';
/** Prefix of every transaction entry. */
export const TX_PREFIX = '.tx/';

/** Begin a transaction over `names` (ESHELF_TX if one is open, ESHELF_NOT_FOUND for a missing name). */
export function txBegin(core: ShelfCore, names: string | readonly string[]): void {
  core.checkWritable('begin a transaction');
  if (core.tx !== null) {
    throw new ShelfError('ESHELF_TX', `a transaction (over ${core.tx.names.map((n) => `'${n}'`).join(', ')}) is already open on shelf '${core.name}': transactions do not nest`);
  }
  const list = typeof names === 'string' ? [names] : names;
  if (!Array.isArray(list)) throw new TypeError('Expected the transaction names to be a string or an array of strings');
  const uniq = [...new Set(list)];
  for (const n of uniq) checkVariableName(n, core.memberProto);
  const entries = uniq.map((n) => {
    const e = core.pool.get(n);
    if (e === null) throw new ShelfError('ESHELF_NOT_FOUND', `cannot begin a transaction over '${n}': no such variable on shelf '${core.name}'`);
    return e;
  });
  const id = String(core.pool.stats().seq + 1);
  const staged: Staged[] = [];
  const undo: UndoRecord[] = [];
  try {
    entries.forEach((e, i) => {
      if (e.length === 0) return; // meta-only values cannot change in place
      const entryName = `${TX_PREFIX}${id}/${i}`;
      const off = core.pool.alloc(e.length);
      staged.push({ op: { type: 'put', name: entryName, offset: off, length: e.length, meta: encodeMeta('tx.undo', { name: e.name, offset: e.offset, length: e.length }) }, alloc: off });
      copyExtent(core.pool, e.offset, off, e.length);
      undo.push({ name: e.name, target: e.offset, length: e.length, undo: off, entryName });
    });
  } catch (err) {
    core.release(staged.map((s) => s.alloc));
    if (err instanceof ShelfError && err.code === 'ESHELF_FULL') {
      throw new ShelfError('ESHELF_FULL', `cannot begin a transaction over ${uniq.map((n) => `'${n}'`).join(', ')}: no room for the undo copies: ${err.message}`);
    }
    throw err;
  }
  staged.push({ op: { type: 'put', name: TX_ACTIVE, offset: 0, length: 0, meta: encodeMeta('tx.active', { id, names: uniq }) }, alloc: null });
  core.commitNow(staged);
  const tx: TxState = { id, names: uniq, undo, internalNames: staged.map((s) => s.op.name), pending: new Map() };
  core.tx = tx;
  debug(1, `tx ${id} begun on '${core.name}' over ${uniq.join(', ')} (${undo.reduce((a, u) => a + u.length, 0)} bytes of undo)`);
}

function requireTx(core: ShelfCore, what: string): TxState {
  core.checkOpen();
  if (core.tx === null) throw new ShelfError('ESHELF_TX', `cannot ${what}: no transaction is open on shelf '${core.name}'`);
  return core.tx;
}

/** Commit the open transaction: persist its variables, then one batch of its deferred operations and undo erasures. */
export function txEnd(core: ShelfCore): void {
  const tx = requireTx(core, 'end a transaction');
  for (const u of tx.undo) core.pool.persist(u.target, u.length);
  const staged: Staged[] = [];
  for (const [name, p] of tx.pending) {
    if (p.type === 'put') staged.push({ op: p.op!, alloc: p.alloc ?? null });
    else staged.push({ op: { type: 'erase', name }, alloc: null });
  }
  for (const n of tx.internalNames) staged.push({ op: { type: 'erase', name: n }, alloc: null });
  const ops: Op[] = staged.map((s) => s.op);
  core.pool.commit(ops); // on failure the transaction stays open: the caller may txAbort()
  core.tx = null;
  core.invalidate(tx.pending.keys());
  debug(1, `tx ${tx.id} committed on '${core.name}' (${tx.pending.size} deferred operations)`);
}

/** Roll the open transaction back: restore the variables from their undo copies, drop the deferred operations. */
export function txAbort(core: ShelfCore): void {
  const tx = requireTx(core, 'abort a transaction');
  for (const u of tx.undo) {
    copyExtent(core.pool, u.undo, u.target, u.length);
    core.pool.persist(u.target, u.length);
  }
  core.release([...tx.pending.values()].map((p) => p.alloc));
  core.pool.commit(tx.internalNames.map((n) => ({ type: 'erase', name: n })));
  core.tx = null;
  core.invalidate(tx.pending.keys());
  debug(1, `tx ${tx.id} rolled back on '${core.name}'`);
}

/** Run `body` inside a transaction over `names`: committed when it returns (or its promise fulfils), rolled back when it throws. */
export function runTx<T>(core: ShelfCore, names: string | readonly string[], body: () => T): T {
  if (typeof body !== 'function') throw new TypeError('Expected the transaction body to be a function');
  txBegin(core, names);
  const tx = core.tx;
  const fail = (e: unknown): never => {
    if (core.tx === tx && !core.closed) {
      try {
        txAbort(core);
      } catch (abortErr) {
        debug(1, `rollback after a failed transaction body failed: ${(abortErr as Error).message}`);
      }
    }
    throw e;
  };
  let result: T;
  try {
    result = body();
  } catch (e) {
    return fail(e);
  }
  const finish = (): void => {
    if (core.tx !== tx) throw new ShelfError('ESHELF_TX', `the transaction over ${tx!.names.join(', ')} was ended inside its body`);
    try {
      txEnd(core);
    } catch (e) {
      fail(e);
    }
  };
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    return (result as unknown as Promise<unknown>).then(
      (v) => { finish(); return v; },
      (e) => fail(e),
    ) as unknown as T;
  }
  finish();
  return result;
}

/**
 * Recovery, run by `shelf()` on a writable open before it returns: if a transaction was open when the last writer died,
 * restore its variables from the undo copies and erase every `.tx/` entry. Returns the number of variables restored.
 */
export function recoverTx(pool: Pool, shelfName: string): number {
  const internal = pool.names(TX_PREFIX);
  if (internal.length === 0) return 0;
  let restored = 0;
  if (pool.has(TX_ACTIVE)) {
    for (const name of internal) {
      if (name === TX_ACTIVE) continue;
      const u = pool.get(name)!;
      const { kind, header } = decodeMeta(u.meta, `'${name}'`);
      const target = typeof header.name === 'string' ? pool.get(header.name) : null;
      if (kind !== 'tx.undo' || target === null || target.offset !== header.offset || target.length !== header.length || u.length !== target.length) {
        throw new ShelfError('ESHELF_CORRUPT', `shelf '${shelfName}': undo entry ${name} (${JSON.stringify(header)}) does not match its variable`);
      }
      copyExtent(pool, u.offset, target.offset, target.length);
      pool.persist(target.offset, target.length);
      restored++;
    }
  }
  pool.commit(internal.map((name) => ({ type: 'erase', name })));
  debug(1, `shelf '${shelfName}': rolled back an interrupted transaction (${restored} variables restored, ${internal.length} internal entries erased)`);
  return restored;
}
