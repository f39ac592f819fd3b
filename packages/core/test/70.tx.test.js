'use strict';
// Transactions: rollback on exception, commit of deferred operations, manual begin/end/abort.
const test = require('ava');
const { shelf, ndarray, internals, ShelfError } = require('@tsmm/core');
const { freshShelf } = require('./helpers');

function txEntries(s) {
  return internals(s).pool.names('.tx/');
}

test('an exception in the body rolls the named variables back and is rethrown', (t) => {
  const { s } = freshShelf(t);
  s.x = ndarray([1000], 'float64');
  s.y = new Int32Array([1, 2, 3]);
  for (let i = 0; i < 1000; i++) s.x.set(i, i);
  const x = s.x;
  const err = new Error('boom');
  const e = t.throws(() => s.tx(['x', 'y'], () => {
    for (let i = 0; i < 1000; i++) x.set(i, -1);
    s.y[1] = 99;
    t.is(s.x.get(5), -1, 'changes are visible inside the body');
    throw err;
  }));
  t.is(e, err);
  t.is(x.get(5), 5, 'rolled back in place: the same view sees the old values');
  t.is(s.x.get(999), 999);
  t.deepEqual(Array.from(s.y), [1, 2, 3]);
  t.deepEqual(txEntries(s), []);
  t.is(s.stats().reserved, 0);
});

test('a body that returns commits: in-place changes stay and are durable', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.x = new Float32Array(16);
  const r = s.tx(['x'], () => { s.x.fill(2.5); return 'done'; });
  t.is(r, 'done');
  t.deepEqual(txEntries(s), []);
  s.close();
  const s2 = shelf(name, { pmemPath: dir });
  t.deepEqual(Array.from(s2.x), new Array(16).fill(2.5));
  s2.close();
});

test('puts, replaces and erases in the body are deferred to the end batch, and dropped on rollback', (t) => {
  const { s } = freshShelf(t);
  s.x = new Int32Array([1]);
  s.old = 'old';
  s.gone = 1;
  t.throws(() => s.tx(['x'], () => {
    s.fresh = ndarray([4], 'int8');
    s.replace('old', 'new');
    s.erase('gone');
    t.is(s.old, 'new', 'read-your-writes inside the body');
    t.is(s.gone, undefined);
    t.deepEqual(s.items, ['fresh', 'old', 'x']);
    t.is(s.fresh.size, 4);
    t.false(internals(s).pool.has('fresh'), 'not committed yet');
    throw new Error('abort');
  }), { message: 'abort' });
  t.deepEqual(s.items, ['gone', 'old', 'x']);
  t.is(s.old, 'old');
  t.is(s.stats().reserved, 0, 'the deferred put was released');
  s.tx(['x'], () => {
    s.fresh = 'yes';
    s.fresh2 = 1;
    s.erase('fresh2'); // put then erase of a new name: nothing
    s.replace('old', 'new');
    s.erase('gone');
    s.x[0] = 7;
  });
  t.deepEqual(s.items, ['fresh', 'old', 'x']);
  t.is(s.fresh, 'yes');
  t.is(s.old, 'new');
  t.is(s.x[0], 7);
  t.deepEqual(txEntries(s), []);
  t.is(s.stats().reserved, 0);
});

test('txBegin / txEnd / txAbort', (t) => {
  const { s } = freshShelf(t);
  s.a = new Uint8Array([1, 1]);
  s.txBegin(['a']);
  const open = txEntries(s);
  t.is(open.length, 2, 'one undo entry and the active record');
  t.regex(open[0], /^\.tx\/\d+\/0$/);
  t.is(open[1], '.tx/active');
  s.a[0] = 9;
  s.txAbort();
  t.is(s.a[0], 1);
  s.txBegin('a');
  s.a[1] = 5;
  s.b = 2;
  s.txEnd();
  t.is(s.a[1], 5);
  t.is(s.b, 2);
  t.deepEqual(txEntries(s), []);
});

test('an async body commits when its promise fulfils and rolls back when it rejects', async (t) => {
  const { s } = freshShelf(t);
  s.v = new Float64Array([1]);
  await s.tx(['v'], async () => { await null; s.v[0] = 2; });
  t.is(s.v[0], 2);
  await t.throwsAsync(s.tx(['v'], async () => { s.v[0] = 3; await null; throw new Error('late'); }), { message: 'late' });
  t.is(s.v[0], 2);
  t.deepEqual(txEntries(s), []);
});

test('re-entrant transactions are ESHELF_TX and leave the outer one intact', (t) => {
  const { s } = freshShelf(t);
  s.x = new Int8Array([1]);
  const e = t.throws(() => s.tx(['x'], () => { s.x[0] = 2; s.tx(['x'], () => {}); }), { instanceOf: ShelfError });
  t.is(e.code, 'ESHELF_TX');
  t.is(s.x[0], 1, 'the outer transaction was rolled back by the error');
});

test('close() during a transaction rolls it back; so does the next open after a crash-like exit', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.x = new Int16Array([10, 20]);
  s.txBegin(['x']);
  s.x[0] = 11;
  s.close();
  const s2 = shelf(name, { pmemPath: dir });
  t.deepEqual(Array.from(s2.x), [10, 20]);
  t.deepEqual(txEntries(s2), []);
  s2.close();
});

test('a transaction over a large (multi-page) array restores every byte', (t) => {
  const { s } = freshShelf(t, { sizeMb: 64 });
  s.big = ndarray([3 * 2 ** 20 + 17], 'uint8');
  const b = s.big.data;
  for (let i = 0; i < b.length; i += 4096) b[i] = i & 0xff;
  const copy = b.slice();
  t.throws(() => s.tx(['big'], () => { b.fill(0xee); throw new Error('x'); }));
  t.true(Buffer.from(b).equals(Buffer.from(copy)));
});
