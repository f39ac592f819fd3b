'use strict';
// Every ShelfError code core can raise, each with a message naming the variable, shelf or option.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { binding } = require('@tsmm/native');
const { shelf, ndarray, ShelfError, internals } = require('@tsmm/core');
const { tempDir, freshShelf } = require('./helpers');

function code(t, f, expected, message) {
  const e = t.throws(f, { instanceOf: ShelfError });
  t.is(e.code, expected, e.message);
  if (message) t.regex(e.message, message);
  return e;
}

test('ESHELF_EXISTS: assigning to an existing name; the message says erase or replace', (t) => {
  const { s } = freshShelf(t);
  s.x = ndarray([3], 'int32');
  s.x.set(0, 5);
  code(t, () => { s.x = ndarray([4], 'int32'); }, 'ESHELF_EXISTS', /'x'.*erase\('x'\).*replace\('x', value\)/);
  code(t, () => s.put('x', 1), 'ESHELF_EXISTS', /'x'/);
  t.is(s.x.get(0), 5);
  t.is(s.stats().reserved, 0, 'the refused value was not left allocated');
  s.replace('x', 7);
  t.is(s.x, 7);
  s.save({ a: new Int8Array(2) }, 'ck');
  code(t, () => s.save({ a: 1 }, 'x'), 'ESHELF_EXISTS', /'x'.*not stored by save/);
});

test('ESHELF_NOT_FOUND: erase, get, load, tx and open of missing names', (t) => {
  const { s, dir } = freshShelf(t);
  code(t, () => s.erase('y'), 'ESHELF_NOT_FOUND', /'y'/);
  code(t, () => s.get('y'), 'ESHELF_NOT_FOUND', /'y'/);
  code(t, () => { delete s.y; }, 'ESHELF_NOT_FOUND', /'y'/);
  code(t, () => s.load('y'), 'ESHELF_NOT_FOUND', /'y'/);
  code(t, () => s.tx(['y'], () => {}), 'ESHELF_NOT_FOUND', /'y'/);
  code(t, () => shelf('missing', { pmemPath: dir }), 'ESHELF_NOT_FOUND', /missing/);
  code(t, () => shelf('missing', { pmemPath: dir, readOnly: true }), 'ESHELF_NOT_FOUND', /missing/);
  code(t, () => shelf('x', { sizeMb: 1, pmemPath: path.join(dir, 'no', 'such', 'dir') }), 'ESHELF_NOT_FOUND');
  t.is(s.y, undefined, 'the attribute form reads a missing name as undefined');
});

test('ESHELF_FULL: nothing half-written, and the shelf keeps working', (t) => {
  const { s } = freshShelf(t, { sizeMb: 2 });
  s.keep = new Float64Array([1, 2, 3]);
  const before = s.stats();
  code(t, () => { s.big = ndarray([1024, 1024], 'float64'); }, 'ESHELF_FULL', /'big'.*8388608 bytes/);
  code(t, () => { s.big = new Uint8Array(4 * 2 ** 20); }, 'ESHELF_FULL', /'big'/);
  code(t, () => s.save({ a: new Uint8Array(2 ** 20), b: new Uint8Array(2 ** 20) }, 'ck'), 'ESHELF_FULL', /'ck\/b'/);
  t.deepEqual(s.items, ['keep']);
  const after = s.stats();
  t.is(after.used, before.used, 'nothing committed');
  t.is(after.reserved, 0, 'nothing left allocated');
  // 'ck/a' was written through a view before 'ck/b' failed: that memory is free again once the view is collected.
  t.is(after.free + after.pinned, before.free + before.pinned);
  s.small = ndarray([100], 'float64');
  t.is(s.small.size, 100);
  t.deepEqual(Array.from(s.keep), [1, 2, 3]);
});

test('ESHELF_FULL: a transaction whose undo copies do not fit leaves nothing behind', (t) => {
  const { s } = freshShelf(t, { sizeMb: 2 });
  s.x = ndarray([150000], 'float64'); // 1.2 MB of 2 MiB: its undo copy cannot fit
  s.x.set(0, 4);
  code(t, () => s.tx(['x'], () => { s.x.set(0, 5); }), 'ESHELF_FULL', /'x'.*undo/);
  t.is(s.x.get(0), 4, 'the body never ran');
  t.deepEqual(internals(s).pool.names('.tx/'), []);
  t.is(s.stats().reserved, 0);
  code(t, () => s.txEnd(), 'ESHELF_TX');
});

test('ESHELF_LOCKED: a second writer of the same shelf', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.v = 1;
  code(t, () => shelf(name, { pmemPath: dir }), 'ESHELF_LOCKED', new RegExp(name));
  t.is(s.v, 1);
  // Readers coexist with the writer; a writer cannot start while the shelf is open for writing or being created.
  const r = shelf(name, { pmemPath: dir, readOnly: true });
  t.is(r.v, 1);
  r.close();
});

test('ESHELF_CORRUPT: damaged values, metas and index files', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.o = { a: [1, 2, 3], b: 'text' };
  const e = internals(s).pool.get('o');
  const bytes = internals(s).region(e.offset, e.length).bytes();
  bytes[e.length - 2] ^= 0xff;
  code(t, () => s.o, 'ESHELF_CORRUPT', /'o'.*CRC32C/);
  bytes[0] = 0;
  code(t, () => s.get('o'), 'ESHELF_CORRUPT', /v8 serialisation header/);
  internals(s).commit([{ type: 'put', name: 'm', offset: 0, length: 0, meta: Buffer.from('not json') }]);
  code(t, () => s.m, 'ESHELF_CORRUPT', /'m'.*not valid JSON/);
  internals(s).commit([{ type: 'put', name: 'v', offset: 0, length: 0, meta: Buffer.from('{"tsmm":99,"kind":"scalar","header":{}}') }]);
  code(t, () => s.v, 'ESHELF_CORRUPT', /version 99/);
  internals(s).commit([{ type: 'put', name: 'n', offset: 0, length: 0, meta: internals(s).encodeMeta('ndarray', { dtype: 'int8', shape: [4], stride: [1] }) }]);
  code(t, () => s.n, 'ESHELF_CORRUPT', /4 int8 elements .* 0 bytes/);
  s.close();
  const map = path.join(dir, `${name}.map`);
  const buf = fs.readFileSync(map);
  buf.fill(0x5a, 0, 32);
  fs.writeFileSync(map, buf);
  code(t, () => shelf(name, { pmemPath: dir }), 'ESHELF_CORRUPT');
});

test('ESHELF_CLOSED: every operation after close', (t) => {
  const { s } = freshShelf(t);
  s.x = new Int32Array(4);
  s.close();
  for (const f of [
    () => s.x, () => { s.y = 1; }, () => s.put('y', 1), () => s.get('x'), () => s.has('x'), () => s.erase('x'),
    () => s.replace('x', 1), () => s.items, () => s.used, () => s.persist(), () => s.inspect(), () => s.grow(64),
    () => s.tx(['x'], () => {}), () => s.txBegin(['x']), () => s.txEnd(), () => s.save({}, 'p'), () => s.load('p'),
    () => Object.keys(s), () => 'x' in s, () => { delete s.x; }, () => internals(s).commit([]),
  ]) code(t, f, 'ESHELF_CLOSED', /closed/);
});

test('ESHELF_READONLY: every write on a readOnly shelf', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.x = new Int32Array(4);
  s.close();
  const r = shelf(name, { pmemPath: dir, readOnly: true });
  t.teardown(() => r.close());
  for (const f of [() => { r.y = 1; }, () => r.put('y', 1), () => r.erase('x'), () => { delete r.x; }, () => r.replace('x', 1),
    () => r.grow(64), () => r.tx(['x'], () => {}), () => r.txBegin(['x']), () => r.save({ a: 1 }, 'p')]) {
    code(t, f, 'ESHELF_READONLY', /readOnly/);
  }
  t.deepEqual(Array.from(r.x), [0, 0, 0, 0]);
});

test('ESHELF_NAME: reserved, internal, empty, too long and malformed names', (t) => {
  const { s, dir } = freshShelf(t);
  code(t, () => { s.items = 1; }, 'ESHELF_NAME', /'items' is a member.*reserved:/);
  code(t, () => s.put('close', 1), 'ESHELF_NAME', /'close'/);
  code(t, () => s.put('.tx/x', 1), 'ESHELF_NAME', /start with "\."/);
  code(t, () => s.put('', 1), 'ESHELF_NAME', /empty/);
  code(t, () => s.put('é'.repeat(128), 1), 'ESHELF_NAME', /256 bytes/);
  code(t, () => s.put('bad\ud800', 1), 'ESHELF_NAME', /surrogate/);
  code(t, () => s.get('.tx/active'), 'ESHELF_NAME');
  code(t, () => s.save({ ['k'.repeat(300)]: new Uint8Array(1) }, 'p'), 'ESHELF_NAME', /255/);
  code(t, () => shelf('a/b', { sizeMb: 1, pmemPath: dir }), 'ESHELF_NAME');
  t.false(s.has('.tx/active'));
  t.throws(() => s.put(42, 1), { instanceOf: TypeError });
  t.deepEqual(s.items, []);
});

test('ESHELF_TYPE: unsupported values, and kinds no codec reads', (t) => {
  const { s } = freshShelf(t);
  code(t, () => { s.y = () => 0; }, 'ESHELF_TYPE');
  t.is(t.throws(() => { s.y = function named() {}; }).message, 'non-shelf type (y, function) cannot be put on the shelf');
  code(t, () => { s.y = Symbol('s'); }, 'ESHELF_TYPE', /\(y, symbol\)/);
  code(t, () => { s.y = undefined; }, 'ESHELF_TYPE', /\(y, undefined\)/);
  code(t, () => { s.y = new (class Foo {})(); }, 'ESHELF_TYPE', /\(y, Foo\)/);
  code(t, () => { s.y = s; }, 'ESHELF_TYPE', /\(y, Shelf\)/);
  internals(s).commit([{ type: 'put', name: 'w', offset: 0, length: 0, meta: internals(s).encodeMeta('tfjs.tensor', { dtype: 'float32', shape: [1] }) }]);
  code(t, () => s.w, 'ESHELF_TYPE', /'w'.*kind 'tfjs\.tensor'/);
  s.n = 1;
  code(t, () => s.load('n'), 'ESHELF_TYPE', /not stored by save/);
  t.deepEqual(s.items, ['n', 'w']);
});

test('ESHELF_BUSY: a close hook refuses; {force: true} closes anyway', (t) => {
  const { s } = freshShelf(t);
  s.x = new Uint8Array([1]);
  const x = s.x;
  let calls = 0;
  internals(s).onClose(({ force }) => {
    calls++;
    if (!force) throw new ShelfError('ESHELF_BUSY', 'tensors are still in use');
  });
  code(t, () => s.close(), 'ESHELF_BUSY', /in use/);
  t.false(s.closed);
  t.is(x[0], 1);
  s.close({ force: true });
  t.true(s.closed);
  t.is(calls, 2);
  t.is(x.length, 0);
});

test('ESHELF_IO: a failing flush of the index; nothing of the put is visible', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.a = 1;
  const before = s.stats();
  binding.testing.injectFault('fdatasync', 'EIO', 0, 1);
  try {
    const e = code(t, () => { s.x = ndarray([1000], 'float32'); }, 'ESHELF_IO', /fdatasync/);
    t.is(e.errno, 'EIO');
  } finally {
    binding.testing.clearFaults();
  }
  t.deepEqual(s.items, ['a']);
  const after = s.stats();
  t.is(after.reserved, 0, 'the allocation was given back');
  t.is(after.used, before.used);
  s.x = ndarray([1000], 'float32');
  t.deepEqual(s.items, ['a', 'x']);
  // A flush that keeps failing poisons the pool: every later write is ESHELF_IO until it is re-opened.
  binding.testing.injectFault('fdatasync', 'EIO', 0, 1000);
  try {
    code(t, () => { s.y = 'lost'; }, 'ESHELF_IO');
  } finally {
    binding.testing.clearFaults();
  }
  code(t, () => { s.z = 1; }, 'ESHELF_IO', /re-open/);
  s.close();
  const r = shelf(name, { pmemPath: dir });
  t.deepEqual(r.items, ['a', 'x']);
  r.z = 1;
  r.close();
});

test('ESHELF_TX: nested transactions, and ending one that is not open', (t) => {
  const { s } = freshShelf(t);
  s.x = new Int32Array(2);
  s.y = new Int32Array(2);
  code(t, () => s.txEnd(), 'ESHELF_TX', /no transaction/);
  code(t, () => s.txAbort(), 'ESHELF_TX', /no transaction/);
  const e = code(t, () => s.tx(['x'], () => s.tx(['y'], () => {})), 'ESHELF_TX', /do not nest/);
  t.truthy(e);
  s.txBegin('x');
  code(t, () => s.txBegin('y'), 'ESHELF_TX', /'x'/);
  s.txEnd();
  code(t, () => s.txEnd(), 'ESHELF_TX');
  t.deepEqual(internals(s).pool.names('.tx/'), []);
});
