'use strict';
// A live view of the same range is handed out again (one external buffer, one pin); unview() releases one claim at a
// time, so a temporary view taken and released by a library never detaches a view its caller still holds.
// copy() moves bytes between extents with no view at all.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pool, ShelfError } = require('@tsmm/native');

function fresh(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pool = Pool.open(path.join(dir, 'p'), { size: 1 << 20 });
  t.teardown(() => pool.close());
  return pool;
}

test('view() of the same live range returns the same ArrayBuffer and pins once', (t) => {
  const pool = fresh(t);
  const off = pool.alloc(8192);
  const a = pool.view(off, 8192);
  const b = pool.view(off, 8192);
  t.is(a, b);
  t.is(pool.stats().views, 1);
  const c = pool.view(off, 4096); // another range of the same extent: another buffer
  t.not(c, a);
  t.is(pool.stats().views, 2);
});

test('unview() releases one claim: the buffer stays attached while another holder has it', (t) => {
  const pool = fresh(t);
  const off = pool.alloc(4096);
  pool.write(off, Buffer.alloc(4096, 7));
  const mine = pool.view(off, 4096);
  const temp = pool.view(off, 4096); // e.g. a library's temporary view of the same range
  t.true(pool.unview(temp));
  t.is(mine.byteLength, 4096, 'the first holder still has its bytes');
  t.is(new Uint8Array(mine)[100], 7);
  t.true(pool.unview(mine));
  t.is(mine.byteLength, 0, 'the last claim detaches it');
  t.false(pool.unview(mine), 'not a live view any more');
  t.is(pool.stats().views, 0);
  const again = pool.view(off, 4096);
  t.not(again, mine);
  t.is(new Uint8Array(again)[100], 7);
});

test('copy() moves bytes between extents without views, and checks both ranges', (t) => {
  const pool = fresh(t);
  const a = pool.alloc(10000);
  const b = pool.alloc(10000);
  pool.write(a, Buffer.alloc(10000, 0x5a));
  pool.copy(a, b, 10000);
  t.deepEqual(pool.read(b, 10000), Buffer.alloc(10000, 0x5a));
  t.is(pool.stats().views, 0);
  t.throws(() => pool.copy(a, b, 20000), { instanceOf: RangeError });
  t.throws(() => pool.copy(a, 123, 16), { instanceOf: RangeError });
  pool.close();
  const err = t.throws(() => pool.copy(a, b, 1));
  t.true(err instanceof ShelfError);
  t.is(err.code, 'ESHELF_CLOSED');
});
