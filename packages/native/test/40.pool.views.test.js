'use strict';
// Views: zero copy, grow while views live, close detaches, 4 GiB cap, bounds, use after close.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const {
  Pool,
  tempDir,
  openPool,
  pattern,
  sha1,
  writeAt,
  readAt,
  putBytes,
  dump,
  throwsShelf,
  runFixture,
  childReport,
  jsonLines,
} = require('./helpers');

const MiB = 1 << 20;
const GiB = 2 ** 30;

test('a view is zero-copy: views alias the mapping, and stores reach another process', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 4 * MiB });
  const off = pool.alloc(100000);
  const ab = pool.view(off, 100000);
  t.true(ab instanceof ArrayBuffer);
  t.is(ab.byteLength, 100000);
  const a = new Uint8Array(ab);
  const b = new Uint8Array(pool.view(off, 100000));
  const c = new Uint8Array(pool.view(off + 64, 64)); // a window inside the extent
  a.set(pattern('zc', 100000));
  t.is(b[12345], a[12345], 'two views of one extent alias');
  t.deepEqual(Buffer.from(c), pattern('zc', 100000).subarray(64, 128));
  b[70] = 0xab;
  t.is(c[6], 0xab);
  const seq = pool.commit([{ type: 'put', name: 'x', offset: off, length: 100000 }]);
  t.true(seq > 0);

  // an in-place update after the commit, made durable with persist()
  a[99999] = 0x5a;
  pool.persist(off + 99999, 1);
  const expect = pattern('zc', 100000);
  expect[70] = 0xab;
  expect[99999] = 0x5a;

  // another process sees the bytes while we still hold the pool open (readOnly alongside a writer) ...
  const live = runFixture('dump-child.js', [p]);
  const [d1] = jsonLines(live.stdout);
  t.truthy(d1 && d1.entries, childReport(live));
  if (d1 && d1.entries) t.is(d1.entries[0].data, sha1(expect));
  pool.close();
  // ... and after we closed it
  const r = runFixture('dump-child.js', [p]);
  const [d2] = jsonLines(r.stdout);
  t.truthy(d2 && d2.entries, childReport(r));
  if (d2 && d2.entries) {
    t.is(d2.entries.length, 1);
    t.is(d2.entries[0].name, 'x');
    t.is(d2.entries[0].data, sha1(expect));
  }
});

test('views of a read-only pool read the committed bytes', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: MiB });
  const { offset } = putBytes(pool, 'x', pattern('x', 5000));
  pool.close();
  const ro = openPool(t, p, { readOnly: true });
  const v = new Uint8Array(ro.view(offset, 5000));
  t.deepEqual(Buffer.from(v), pattern('x', 5000));
});

for (const layout of ['pair', 'single']) {
  test(`${layout}: grow() while views are live keeps them valid and adds usable space`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    const pool = Pool.open(p, { size: MiB, layout });
    const size0 = pool.size;
    const held = [];
    for (let i = 0; ; i++) {
      let off;
      try {
        off = pool.alloc(65536);
      } catch (err) {
        t.is(err.code, 'ESHELF_FULL');
        break;
      }
      const v = new Uint8Array(pool.view(off, 65536));
      v.set(pattern(`g${i}`, 65536));
      pool.commit([{ type: 'put', name: `g${i}`, offset: off, length: 65536 }]);
      held.push(v);
    }
    t.true(held.length >= 10);

    for (const factor of [2, 4, 16]) {
      const sizeBefore = pool.size;
      pool.grow(size0 * factor);
      t.true(pool.size >= size0 * factor, `size ${pool.size} after grow(${size0 * factor})`);
      held.forEach((v, i) => {
        t.is(v.length, 65536);
        t.true(Buffer.compare(Buffer.from(v), pattern(`g${i}`, 65536)) === 0, `view ${i} changed after grow x${factor}`);
      });
      // the new space is usable through new views, and old views stay writable
      const big = pool.alloc(size0 * (factor / 2));
      t.true(big + size0 * (factor / 2) > sizeBefore, `new extent at ${big} must reach into the new space`);
      writeAt(pool, big, pattern(`big${factor}`, size0 * (factor / 2)));
      pool.commit([{ type: 'put', name: `big${factor}`, offset: big, length: size0 * (factor / 2) }]);
      held[0][0] ^= 0xff;
      held[0][0] ^= 0xff;
    }
    const state = dump(pool);
    const finalSize = pool.size;
    pool.close();
    held.forEach((v) => t.is(v.length, 0));

    const again = openPool(t, p, { layout });
    t.is(again.size, finalSize, 'the grown size is durable');
    t.deepEqual(dump(again), state);
    t.deepEqual(readAt(again, again.get('big16').offset, size0 * 8), pattern('big16', size0 * 8));
  });
}

test('grow() to a smaller size, or past maxSize, is refused and changes nothing', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = openPool(t, p, { size: 2 * MiB, maxSize: 8 * MiB });
  const { offset } = putBytes(pool, 'x', pattern('x', 4096));
  const v = new Uint8Array(pool.view(offset, 4096));
  const size = pool.size;
  t.throws(() => pool.grow(MiB), { instanceOf: RangeError });
  t.throws(() => pool.grow(-1), { instanceOf: RangeError });
  t.throws(() => pool.grow('4194304'), { instanceOf: TypeError });
  const err = t.throws(() => pool.grow(64 * MiB));
  if (err) t.true(err instanceof RangeError || err.code === 'ESHELF_FULL', `${err.name} ${err.code}: ${err.message}`);
  t.is(pool.size, size);
  t.deepEqual(Buffer.from(v), pattern('x', 4096));
  pool.grow(8 * MiB);
  t.true(pool.size >= 8 * MiB);
  t.deepEqual(Buffer.from(v), pattern('x', 4096));
});

test('close() detaches every view: length 0, reads are undefined, nothing crashes', (t) => {
  const dir = tempDir(t);
  const pool = Pool.open(path.join(dir, 'p'), { size: MiB });
  const { offset } = putBytes(pool, 'x', pattern('x', 8192));
  const ab = pool.view(offset, 8192);
  const u8 = new Uint8Array(ab);
  const f64 = new Float64Array(pool.view(offset, 8192));
  const dv = new DataView(pool.view(offset, 4096));
  const sub = new Uint8Array(pool.view(offset, 8192), 100, 50);
  const buf = Buffer.from(pool.view(offset, 8192));
  t.is(u8[0], pattern('x', 8192)[0]);
  pool.close();
  t.is(ab.byteLength, 0);
  t.is(u8.length, 0);
  t.is(u8.byteLength, 0);
  t.is(f64.length, 0);
  t.is(sub.length, 0);
  t.is(buf.length, 0);
  t.is(u8[0], undefined);
  t.is(f64[10], undefined);
  // JavaScript's own rules for a detached buffer: methods throw a TypeError, never touch memory
  t.throws(() => dv.getUint8(0), { instanceOf: TypeError });
  t.throws(() => Buffer.from(ab), { instanceOf: TypeError });
  t.throws(() => u8.reduce((a, b) => a + b, 0), { instanceOf: TypeError });
  u8[0] = 1; // a store into a detached buffer is a no-op
  t.is(u8[0], undefined);
});

test('views outlive close() and are collected after the unmap without crashing', (t) => {
  const dir = tempDir(t);
  const r = runFixture('view-lifetime-child.js', [path.join(dir, 'p'), 'after-close'], { execArgv: ['--expose-gc'] });
  t.is(r.status, 0, childReport(r));
  const [f] = jsonLines(r.stdout);
  t.truthy(f, childReport(r));
  if (!f) return;
  t.deepEqual(f.lengths, [0]);
  t.is(f.f64, 0);
  t.is(f.read, undefined);
  t.is(f.sum, 0);
  t.true(f.survived);
});

test('a dropped Pool object does not unmap memory that live views still use', (t) => {
  const dir = tempDir(t);
  const r = runFixture('view-lifetime-child.js', [path.join(dir, 'p'), 'pool-gc'], { execArgv: ['--expose-gc'] });
  t.is(r.status, 0, childReport(r));
  const [f] = jsonLines(r.stdout);
  t.truthy(f, childReport(r));
  if (!f) return;
  t.is(f.length, 65536);
  t.true(f.intact);
  t.true(f.survived);
});

test('a view over 4 GiB is a RangeError; 4 GiB windows of a larger extent work', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * GiB + 4 * MiB });
  const len = 4 * GiB + MiB;
  const off = pool.alloc(len);
  const err = t.throws(() => pool.view(off, 4 * GiB + 1), { instanceOf: RangeError });
  if (err) t.regex(err.message, /4 ?GiB|4294967296|2\^32|2\*\*32/);
  t.throws(() => pool.view(off, len), { instanceOf: RangeError });
  t.is(pool.stats().views, 0, 'no view was created by the refused calls');

  const w0 = pool.view(off, 4 * GiB);
  t.is(w0.byteLength, 4 * GiB);
  const w1 = pool.view(off + MiB, 4 * GiB);
  t.is(w1.byteLength, 4 * GiB);
  const a = new Uint8Array(w0);
  const b = new Uint8Array(w1);
  a[4 * GiB - 1] = 0x77;
  t.is(b[4 * GiB - 1 - MiB], 0x77, 'windows alias');
  b[4 * GiB - 1] = 0x42; // the last byte of the extent
  t.is(new Uint8Array(pool.view(off + len - 1, 1))[0], 0x42);
  pool.close();
  t.is(a.length, 0);
  t.is(b.length, 0);
});

test('a view must lie inside one allocated or named extent', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * MiB });
  const { dataStart } = pool.stats();
  const a = pool.alloc(8192);
  const b = pool.alloc(8192);
  const named = putBytes(pool, 'n', pattern('n', 1000)).offset;
  const freed = pool.alloc(4096);
  pool.release(freed);
  const cases = [
    ['the superblock', 0, 64],
    ['just below the data start', dataStart - 64, 64],
    ['free space', 3 * MiB, 64],
    ['a released extent', freed, 64],
    ['past the end of an extent', a + 8192 - 10, 20],
    ['spanning two extents', a, 16384],
    ['past a named extent (into its alignment padding)', named, 1001],
    ['past the region', pool.size - 64, 128],
    ['far past the region', 2 ** 40, 64],
    ['a negative offset', -64, 64],
    ['a negative length', a, -1],
    ['an unsafe offset', 2 ** 53, 1],
  ];
  for (const [what, off, len] of cases) {
    t.throws(() => pool.view(off, len), { instanceOf: RangeError }, what);
  }
  t.throws(() => pool.view('0', 64), { instanceOf: TypeError });
  t.throws(() => pool.view(a), { instanceOf: TypeError });
  // the valid ones
  t.is(pool.view(a, 8192).byteLength, 8192);
  t.is(pool.view(a + 8000, 192).byteLength, 192);
  t.is(pool.view(named, 1000).byteLength, 1000);
});

test('every method is ESHELF_CLOSED after close(), naming the pool', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'closedpool');
  const pool = Pool.open(p, { size: MiB });
  const { offset } = putBytes(pool, 'x', pattern('x', 100));
  const spare = pool.alloc(64);
  pool.close();
  const calls = {
    alloc: () => pool.alloc(64),
    release: () => pool.release(spare),
    commit: () => pool.commit([{ type: 'erase', name: 'x' }]),
    get: () => pool.get('x'),
    has: () => pool.has('x'),
    names: () => pool.names(),
    entries: () => pool.entries(),
    view: () => pool.view(offset, 100),
    write: () => pool.write(offset, Buffer.from('x')),
    read: () => pool.read(offset, 1),
    zero: () => pool.zero(offset, 1),
    unview: () => pool.unview(new ArrayBuffer(8)),
    persist: () => pool.persist(offset, 100),
    grow: () => pool.grow(2 * MiB),
    refresh: () => pool.refresh(),
    compact: () => pool.compact(),
    stats: () => pool.stats(),
    size: () => pool.size,
  };
  for (const [name, fn] of Object.entries(calls)) {
    const err = throwsShelf(t, fn, 'ESHELF_CLOSED', ['closedpool']);
    if (!err) t.log(`${name} did not throw ESHELF_CLOSED`);
  }
  t.true(pool.closed);
  t.notThrows(() => pool.close());
  // and the same for a read-only pool
  const ro = Pool.open(p, { readOnly: true });
  ro.close();
  for (const fn of [() => ro.refresh(), () => ro.get('x'), () => ro.view(offset, 100), () => ro.stats()]) {
    throwsShelf(t, fn, 'ESHELF_CLOSED', ['closedpool']);
  }
  t.true(fs.existsSync(`${p}.map`));
});

test('write() and read() copy in and out without views, inside one extent', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 4 * MiB });
  const off = pool.alloc(10000);
  const views0 = pool.stats().views;
  pool.write(off, pattern('w', 10000));
  pool.write(off + 100, new Uint16Array([0x0201, 0x0403])); // any ArrayBufferView, bytes as in memory
  pool.write(off + 200, new Uint8Array([9, 9, 9]).buffer); // or an ArrayBuffer
  const sub = Buffer.from('subarray-of-a-bigger-buffer');
  pool.write(off + 300, sub.subarray(9, 11)); // byteOffset respected
  const expect = pattern('w', 10000);
  expect.set([1, 2, 3, 4], 100);
  expect.set([9, 9, 9], 200);
  expect.set(Buffer.from('of'), 300);
  const got = pool.read(off, 10000);
  t.true(Buffer.isBuffer(got));
  t.deepEqual(got, expect);
  t.deepEqual(pool.read(off + 100, 4), Buffer.from([1, 2, 3, 4]));
  got.fill(0); // a copy
  t.deepEqual(pool.read(off, 10000), expect);
  t.is(pool.stats().views, views0, 'no view was created');
  pool.commit([{ type: 'put', name: 'x', offset: off, length: 10000 }]);
  pool.close();
  const ro = openPool(t, p, { readOnly: true });
  t.deepEqual(ro.read(ro.get('x').offset, 10000), expect);
  throwsShelf(t, () => ro.write(off, Buffer.from('no')), 'ESHELF_READONLY', ['p']);
  throwsShelf(t, () => ro.zero(off, 10), 'ESHELF_READONLY', ['p']);
});

test('write(), read() and zero() outside one extent are RangeErrors and change nothing', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * MiB });
  const a = pool.alloc(8192);
  const b = pool.alloc(8192);
  pool.write(a, pattern('a', 8192));
  pool.write(b, pattern('b', 8192));
  const named = pool.alloc(1000);
  pool.write(named, pattern('n', 1000));
  pool.commit([{ type: 'put', name: 'n', offset: named, length: 1000 }]);
  const bad = [
    ['free space', 3 * MiB, 16],
    ['the superblock', 0, 16],
    ['spanning two extents', a + 8000, 400],
    ['past an extent\'s requested length', named + 990, 20],
    ['past the region', pool.size - 8, 16],
  ];
  for (const [what, off, len] of bad) {
    t.throws(() => pool.write(off, Buffer.alloc(len, 0xee)), { instanceOf: RangeError }, `write: ${what}`);
    t.throws(() => pool.read(off, len), { instanceOf: RangeError }, `read: ${what}`);
    t.throws(() => pool.zero(off, len), { instanceOf: RangeError }, `zero: ${what}`);
  }
  t.throws(() => pool.write(a, 'text'), { instanceOf: TypeError });
  t.throws(() => pool.write(a, [1, 2, 3]), { instanceOf: TypeError });
  t.deepEqual(pool.read(a, 8192), pattern('a', 8192));
  t.deepEqual(pool.read(b, 8192), pattern('b', 8192));
  t.deepEqual(pool.read(named, 1000), pattern('n', 1000));
});

test('zero() makes a range read as zeros, whole pages and partial ones, and leaves the rest', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 16 * MiB });
  const len = 3 * MiB + 100;
  const off = pool.alloc(len);
  const expect = pattern('z', len);
  pool.write(off, expect);
  const held = new Uint8Array(pool.view(off, len)); // a live view sees the zeros too (same pages)
  pool.zero(off + 10, 5000); // partial first page, into the second
  expect.fill(0, 10, 5010);
  pool.zero(off + MiB, 2 * MiB); // whole pages
  expect.fill(0, MiB, 3 * MiB);
  pool.zero(off + len - 50, 50); // the tail of the extent
  expect.fill(0, len - 50, len);
  t.deepEqual(pool.read(off, len), expect);
  t.true(Buffer.compare(Buffer.from(held), expect) === 0, 'a view taken before zero() sees the zeros');
  pool.commit([{ type: 'put', name: 'z', offset: off, length: len }]);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(again.read(again.get('z').offset, len), expect, 'zeros are what is committed');
});

test('write() pins nothing: a synchronous replace loop reuses space at once', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * MiB });
  const chunk = pattern('c', 65536);
  for (let i = 0; i < 500; i++) {
    const off = pool.alloc(65536);
    pool.write(off, chunk);
    pool.commit([{ type: 'put', name: 'x', offset: off, length: 65536 }]);
  }
  const s = pool.stats();
  t.is(s.pinned, 0);
  t.is(s.used, 65536);
  t.deepEqual(pool.read(pool.get('x').offset, 65536), chunk);
});

test('unview() detaches one view and unpins its extent at once', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * MiB });
  const off = pool.alloc(65536);
  const v = pool.view(off, 65536);
  const other = pool.view(off, 100); // a second view of the same extent stays valid
  new Uint8Array(v).set(pattern('u', 65536));
  pool.commit([{ type: 'put', name: 'x', offset: off, length: 65536 }]);
  const off2 = pool.alloc(65536);
  pool.write(off2, pattern('u2', 65536));
  pool.commit([{ type: 'put', name: 'x', offset: off2, length: 65536 }]);
  t.true(pool.stats().pinned >= 65536, 'the replaced extent is pinned by two views');
  t.true(pool.unview(v));
  t.is(v.byteLength, 0, 'detached');
  t.false(pool.unview(v), 'a second unview is false');
  t.is(other.byteLength, 100);
  t.deepEqual(Buffer.from(other), pattern('u', 65536).subarray(0, 100));
  t.true(pool.stats().pinned >= 65536, 'still pinned by the other view');
  t.true(pool.unview(other));
  t.is(pool.stats().pinned, 0, 'unpinned synchronously');
  t.is(pool.alloc(65536), off, 'and reusable at once');
  t.false(pool.unview(new ArrayBuffer(16)), 'not a view of this pool');
  const q = openPool(t, path.join(dir, 'q'), { size: MiB });
  const foreign = q.view(q.alloc(64), 64);
  t.false(pool.unview(foreign), 'a view of another pool');
  t.is(foreign.byteLength, 64, 'is left alone');
  t.throws(() => pool.unview('view'), { instanceOf: TypeError });
});
