'use strict';
// The allocator: alignment, ESHELF_FULL, release/reuse, stats, rebuild at open, pinning by live views.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  Pool,
  tempDir,
  openPool,
  pattern,
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

/** stats() without `views` (a count of uncollected ArrayBuffers, which GC decides). */
function st(pool) {
  const { views, ...rest } = pool.stats();
  return rest;
}

test('extents are 64-byte aligned, page-aligned from 4096 bytes, inside the region and disjoint', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 8 * MiB });
  const { dataStart, size } = pool.stats();
  const sizes = [1, 7, 63, 64, 65, 100, 1000, 4095, 4096, 4097, 8191, 10000, 65536, 100000, 1, 3, 4096, 64, 200000];
  const got = [];
  for (const len of sizes) {
    const off = pool.alloc(len);
    t.is(typeof off, 'number');
    t.true(Number.isSafeInteger(off));
    t.is(off % 64, 0, `alloc(${len}) -> ${off} is not 64-byte aligned`);
    if (len >= 4096) t.is(off % 4096, 0, `alloc(${len}) -> ${off} is not page-aligned`);
    t.true(off >= dataStart, `alloc(${len}) -> ${off} below dataStart ${dataStart}`);
    t.true(off + len <= size, `alloc(${len}) -> ${off} past the region end ${size}`);
    got.push([off, len]);
  }
  const sorted = [...got].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    t.true(sorted[i - 1][0] + sorted[i - 1][1] <= sorted[i][0], `extents overlap: ${sorted[i - 1]} and ${sorted[i]}`);
  }
  // every extent is writable and independent: fill all, then check all
  got.forEach(([off, len], i) => writeAt(pool, off, pattern(`e${i}`, len)));
  got.forEach(([off, len], i) => t.deepEqual(readAt(pool, off, len), pattern(`e${i}`, len), `extent ${i} clobbered`));
});

test('alloc argument misuse is a TypeError/RangeError', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  const before = st(pool);
  for (const v of [0, -1, 1.5, NaN, Infinity, 2 ** 64]) {
    t.throws(() => pool.alloc(v), { instanceOf: RangeError }, String(v));
  }
  for (const v of ['64', null, undefined, {}, 10n]) {
    t.throws(() => pool.alloc(v), { instanceOf: TypeError }, String(v));
  }
  t.deepEqual(st(pool), before);
});

test('ESHELF_FULL leaves nothing half-made, and the pool stays usable', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  const before = st(pool);
  throwsShelf(t, () => pool.alloc(2 * MiB), 'ESHELF_FULL', []);
  throwsShelf(t, () => pool.alloc(before.free + 1), 'ESHELF_FULL', []);
  t.deepEqual(st(pool), before, 'a failed alloc changes nothing');

  // fill it up in 64 KiB steps
  const offs = [];
  let err;
  for (;;) {
    try {
      offs.push(pool.alloc(65536));
    } catch (e) {
      err = e;
      break;
    }
    if (offs.length > 1000) break;
  }
  t.is(err && err.code, 'ESHELF_FULL');
  t.true(offs.length >= 14, `only ${offs.length} x 64 KiB fit in 1 MiB`);
  const full = st(pool);
  t.true(full.reserved >= offs.length * 65536);
  t.true(full.free < 65536 || full.largestFree < 65536);
  // a failed alloc on a full pool changes nothing either
  t.throws(() => pool.alloc(65536));
  t.deepEqual(st(pool), full);
  // release everything: back to the start
  for (const o of offs) pool.release(o);
  const after = pool.stats();
  t.is(after.free, before.free);
  t.is(after.largestFree, before.largestFree);
  t.is(after.reserved, 0);
  t.is(after.fragmentation, 0);
  putBytes(pool, 'still-works', pattern('s', 300000));
  t.deepEqual(readAt(pool, pool.get('still-works').offset, 300000), pattern('s', 300000));
});

test('release gives an extent back and the same hole is reused (best fit)', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * MiB });
  const a = pool.alloc(8192);
  const x = pool.alloc(8192);
  const b = pool.alloc(8192);
  const big = pool.alloc(65536); // keep the tail away from x
  t.not(a, x);
  t.not(x, b);
  const reserved = pool.stats().reserved;
  pool.release(x);
  t.is(pool.stats().reserved, reserved - 8192);
  t.is(pool.alloc(8192), x, 'the exact-fit hole is reused');
  // a smaller allocation also prefers the hole (best fit) over the big tail
  pool.release(x);
  const small = pool.alloc(4096);
  t.is(small, x, 'best fit: the 8 KiB hole beats the large tail');
  for (const o of [a, b, big, small]) pool.release(o);
  t.is(pool.stats().reserved, 0);
});

test('release of an unknown, already released or committed offset throws and changes nothing', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  const { offset } = putBytes(pool, 'named', pattern('n', 5000));
  const x = pool.alloc(100);
  pool.release(x);
  const before = st(pool);
  const state = dump(pool);
  t.throws(() => pool.release(x), undefined, 'double release');
  t.throws(() => pool.release(offset), undefined, 'release of a named extent');
  t.throws(() => pool.release(offset + 64), undefined, 'release inside an extent');
  t.throws(() => pool.release(123456789), undefined, 'release of an unknown offset');
  t.deepEqual(st(pool), before);
  t.deepEqual(dump(pool), state);
});

test('stats() reports every field with sane values', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * MiB });
  const s0 = pool.stats();
  for (const k of ['size', 'dataStart', 'used', 'reserved', 'pinned', 'free', 'largestFree', 'fragmentation', 'entries', 'seq', 'logBytes', 'liveLogBytes', 'views']) {
    t.is(typeof s0[k], 'number', k);
    t.true(s0[k] >= 0, k);
  }
  for (const k of ['durable', 'readOnly']) t.is(typeof s0[k], 'boolean', k);
  t.is(s0.layout, 'pair');
  t.is(s0.medium, 'file');
  t.is(s0.persistMethod, 'msync');
  t.true(s0.durable);
  t.is(s0.used, 0);
  t.is(s0.reserved, 0);
  t.is(s0.pinned, 0);
  t.is(s0.entries, 0);
  t.is(s0.fragmentation, 0);
  t.is(s0.largestFree, s0.free);
  t.true(s0.free > 0 && s0.free <= s0.size - s0.dataStart);

  putBytes(pool, 'a', pattern('a', 10000), Buffer.from('m'));
  putBytes(pool, 'b', pattern('b', 100));
  putBytes(pool, 'meta-only', Buffer.alloc(0), Buffer.from('42'));
  const r = pool.alloc(65536);
  const s1 = pool.stats();
  t.is(s1.entries, 3);
  t.true(s1.used >= 10100, `used ${s1.used}`);
  t.true(s1.used < 10100 + 2 * 4096, `used ${s1.used}`);
  t.true(s1.reserved >= 65536);
  t.true(s1.seq >= 3);
  t.true(s1.free <= s0.free - s1.used - s1.reserved);
  t.true(s1.used + s1.reserved + s1.pinned + s1.free <= s0.size - s0.dataStart);
  t.true(s1.logBytes > 64 && s1.liveLogBytes > 64);

  // a hole in the middle makes the free space fragmented
  const x = pool.alloc(65536);
  pool.alloc(4096);
  pool.release(x);
  const s2 = pool.stats();
  t.true(s2.largestFree < s2.free);
  t.true(s2.fragmentation > 0 && s2.fragmentation < 1, `fragmentation ${s2.fragmentation}`);
  t.true(Math.abs(s2.fragmentation - (1 - s2.largestFree / s2.free)) < 1e-9, `fragmentation ${s2.fragmentation}`);
  pool.release(r);
});

test('stats() on tmpfs: medium tmpfs, persist by fence, not durable', (t) => {
  if (!fs.existsSync('/dev/shm')) {
    t.pass('no /dev/shm on this machine');
    return;
  }
  const dir = fs.mkdtempSync(path.join('/dev/shm', 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  const s = pool.stats();
  t.is(s.medium, 'tmpfs');
  t.is(s.persistMethod, 'fence');
  t.false(s.durable);
  putBytes(pool, 'x', pattern('x', 5000));
  pool.persist(pool.get('x').offset, 5000);
  t.deepEqual(readAt(pool, pool.get('x').offset, 5000), pattern('x', 5000));
  t.true(os.tmpdir() !== dir);
});

test('the allocator is rebuilt at open from live entries: uncommitted allocations are reclaimed', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 4 * MiB });
  putBytes(pool, 'keep', pattern('k', 100000));
  putBytes(pool, 'gone', pattern('g', 50000));
  pool.commit([{ type: 'erase', name: 'gone' }]);
  const committed = pool.stats();
  // allocations never committed, one of them written to
  const leak = [pool.alloc(200000), pool.alloc(64), pool.alloc(1 << 20)];
  writeAt(pool, leak[0], pattern('leak', 200000));
  t.true(pool.stats().reserved >= 200000 + 64 + (1 << 20));
  pool.close();

  const again = openPool(t, p);
  const s = again.stats();
  t.is(s.reserved, 0);
  t.is(s.pinned, 0);
  t.is(s.used, committed.used);
  t.is(s.free, s.size - s.dataStart - s.used, 'the reserved extents and the erased one are free again');
  t.is(s.free, committed.free + committed.pinned);
  t.deepEqual(readAt(again, again.get('keep').offset, 100000), pattern('k', 100000));
  // the reclaimed space can be allocated in one piece again
  const big = again.alloc(s.largestFree);
  t.true(big >= s.dataStart);
});

test('an erase frees the extent for reuse once durable (no views)', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  const free0 = pool.stats().free;
  const { offset } = putBytes(pool, 'x', pattern('x', 65536));
  pool.commit([{ type: 'erase', name: 'x' }]);
  const s = pool.stats();
  // the only view of x (used to write it) may still be uncollected: then it is pinned, never lost
  t.is(s.free + s.pinned, free0);
  t.is(s.used, 0);
  t.true(pool.alloc(65536) >= 0);
  t.true(Number.isInteger(offset));
});

for (const [mode, sub] of [
  ['replace', false],
  ['replace', true],
  ['erase', false],
  ['release', false],
]) {
  test(`${mode}${sub ? ' (view of a sub-range)' : ''}: the old extent is not reused while a view references it, and is once the view is collected`, (t) => {
    const dir = tempDir(t);
    const r = runFixture('pin-child.js', [path.join(dir, 'p'), mode, ...(sub ? ['sub'] : [])], { execArgv: ['--expose-gc'] });
    t.is(r.status, 0, childReport(r));
    const [f] = jsonLines(r.stdout);
    if (!f) return;
    t.is(f.pinnedBeforeHold, 0);
    t.true(f.viewsWhileHeld >= 1, `stats().views ${f.viewsWhileHeld}`);
    t.true(f.pinnedAfterFree >= 16384, `pinned after ${mode}: ${f.pinnedAfterFree}`);
    t.is(f.fullCode, 'ESHELF_FULL');
    t.true(f.fillers.length > 10, `fillers ${f.fillers.length}`);
    t.false(f.fillers.includes(f.x), `extent ${f.x} was handed out again while a view referenced it`);
    for (const o of f.fillers) t.false(o > f.x && o < f.x + 16384, `filler ${o} lies inside the pinned extent ${f.x}`);
    t.true(f.viewIntact, 'the bytes under the live view were overwritten');
    t.true(f.pinnedWhileHeld >= 16384);
    t.is(f.pinnedAfterGc, 0, `still pinned after ${f.gcRounds} gc rounds`);
    t.is(f.reuse, f.x, `after the view was collected the extent is reusable (${f.reuseError || f.reuse})`);
  });
}

test('pinned extents are not persisted: a re-open frees them', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: MiB });
  const { offset } = putBytes(pool, 'x', pattern('x', 16384));
  const held = new Uint8Array(pool.view(offset, 16384));
  putBytes(pool, 'x', pattern('x2', 16384));
  t.true(pool.stats().pinned >= 16384);
  const used = pool.stats().used;
  pool.close();
  t.is(held.length, 0, 'close detached the view');
  const again = openPool(t, p);
  t.is(again.stats().pinned, 0);
  t.is(again.stats().used, used);
  t.deepEqual(readAt(again, again.get('x').offset, 16384), pattern('x2', 16384));
});
