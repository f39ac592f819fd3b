'use strict';
// The single-file layout (device DAX), tested on a plain file: create/commit/re-open, DAX_RESET, the two log halves.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { Pool, ShelfError, tempDir, openPool, pattern, readAt, putBytes, dump, throwsShelf, runFixture, childReport, jsonLines, ls } = require('./helpers');
const { singleLogStart } = require('./helpers/log');

const MiB = 1 << 20;

function activeHalf(p) {
  const fd = fs.openSync(p, 'r');
  const b = Buffer.alloc(4096);
  fs.readSync(fd, b, 0, 4096, 0);
  fs.closeSync(fd);
  return singleLogStart(b).active;
}

test('create, commit, re-open (writable and readOnly), grow', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'dax0.0');
  const pool = Pool.open(p, { size: 4 * MiB, layout: 'single' });
  t.deepEqual(ls(dir), ['dax0.0']);
  const s = pool.stats();
  t.is(s.layout, 'single');
  t.true(s.dataStart > 4096, 'the index lives in a reserved head of the region');
  putBytes(pool, 'weights', pattern('w', 100000), Buffer.from('{"dtype":"float32"}'));
  putBytes(pool, 'step', Buffer.alloc(0), Buffer.from('7'));
  t.true(pool.get('weights').offset >= s.dataStart);
  const state = dump(pool);
  pool.close();

  const ro = Pool.open(p, { layout: 'single', readOnly: true });
  t.deepEqual(dump(ro), state);
  ro.close();

  const rw = openPool(t, p, { layout: 'single' });
  t.deepEqual(dump(rw), state);
  const size = rw.size;
  rw.grow(size * 2);
  const big = rw.alloc(size);
  new Uint8Array(rw.view(big, size)).set(pattern('big', size));
  rw.commit([{ type: 'put', name: 'big', offset: big, length: size }]);
  const state2 = dump(rw);
  rw.close();
  t.true(fs.statSync(p).size >= size * 2);
  const again = openPool(t, p, { layout: 'single' });
  t.deepEqual(dump(again), state2);
  t.deepEqual(readAt(again, again.get('weights').offset, 100000), pattern('w', 100000));
});

test('logSize sets the bytes of each log half; the data starts after both', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'dev');
  const pool = openPool(t, p, { size: 2 * MiB, layout: 'single', logSize: 65536 });
  const head = Buffer.alloc(4096);
  const fd = fs.openSync(p, 'r');
  fs.readSync(fd, head, 0, 4096, 0);
  fs.closeSync(fd);
  const g = singleLogStart(head);
  t.is(g.logOffset, 4096);
  t.is(g.logHalf, 65536);
  t.is(pool.stats().dataStart, 4096 + 2 * 65536);
  t.true(pool.stats().logBytes <= 65536);
});

test('DAX_RESET=1 in the environment clears the pool at open, durably', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'dax');
  const pool = Pool.open(p, { size: 4 * MiB, layout: 'single' });
  putBytes(pool, 'a', pattern('a', 5000), Buffer.from('a'));
  putBytes(pool, 'b', Buffer.alloc(0), Buffer.from('b'));
  const state = dump(pool);
  const size = pool.size;
  pool.close();

  // without the variable (or with another value) nothing is cleared
  for (const env of [{}, { DAX_RESET: '0' }, { DAX_RESET: '' }]) {
    const r = runFixture('dump-child.js', [p, JSON.stringify({ layout: 'single' })], { env });
    const [d] = jsonLines(r.stdout);
    t.deepEqual(d, state, `${JSON.stringify(env)}: ${childReport(r)}`);
  }
  // a readOnly open never writes, DAX_RESET or not
  const rro = runFixture('dump-child.js', [p, JSON.stringify({ layout: 'single', readOnly: true })], { env: { DAX_RESET: '1' } });
  const [dro] = jsonLines(rro.stdout);
  t.truthy(dro, childReport(rro));
  if (dro && !dro.error) t.deepEqual(dro, state);
  const check = Pool.open(p, { layout: 'single', readOnly: true });
  t.deepEqual(dump(check), state, 'a readOnly open with DAX_RESET=1 did not clear the pool');
  check.close();

  const r = runFixture('dump-child.js', [p, JSON.stringify({ layout: 'single' })], { env: { DAX_RESET: '1' } });
  const [d] = jsonLines(r.stdout);
  t.truthy(d && d.entries, childReport(r));
  if (d && d.entries) t.deepEqual(d.entries, [], 'cleared at open');

  const after = openPool(t, p, { layout: 'single' });
  t.deepEqual(after.names(), [], 'the reset is durable');
  t.is(after.size, size, 'the geometry is kept');
  t.is(after.stats().used, 0);
  putBytes(after, 'fresh', pattern('f', 100));
  t.true(after.has('fresh'));
});

test('the log switches halves as it fills, compacting live entries into the other half', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'dax');
  const pool = Pool.open(p, { size: 4 * MiB, layout: 'single', logSize: 16384 });
  for (let i = 0; i < 20; i++) putBytes(pool, `stable/${i}`, pattern(`s${i}`, 200), Buffer.from(`m${i}`));
  const halves = new Set([activeHalf(p)]);
  let switches = 0;
  let prev = activeHalf(p);
  let maxLog = 0;
  for (let i = 0; i < 600; i++) {
    putBytes(pool, `hot/${i % 5}`, pattern(`h${i}`, 300), pattern(`meta${i}`, 80));
    const h = activeHalf(p);
    if (h !== prev) switches++;
    prev = h;
    halves.add(h);
    maxLog = Math.max(maxLog, pool.stats().logBytes);
  }
  t.true(switches >= 4, `the log switched halves ${switches} times`);
  t.deepEqual([...halves].sort(), [0, 1]);
  t.true(maxLog <= 16384, `logBytes reached ${maxLog} in a 16 KiB half`);
  const state = dump(pool);
  pool.compact();
  t.deepEqual(dump(pool), state);
  pool.close();
  const again = openPool(t, p, { layout: 'single' });
  t.deepEqual(dump(again), state);
  for (let i = 0; i < 20; i++) t.deepEqual(readAt(again, again.get(`stable/${i}`).offset, 200), pattern(`s${i}`, 200));
  t.deepEqual(again.get('hot/4').meta, pattern('meta599', 80));
});

test('a batch that cannot fit in a log half is ESHELF_FULL and applies nothing', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'dax');
  const pool = openPool(t, p, { size: 4 * MiB, layout: 'single', logSize: 16384 });
  putBytes(pool, 'small', pattern('s', 100), Buffer.from('s'));
  const state = dump(pool);
  throwsShelf(t, () => pool.commit([{ type: 'put', name: 'huge-meta', offset: 0, length: 0, meta: new Uint8Array(20000) }]), 'ESHELF_FULL', ['dax']);
  t.deepEqual(dump(pool), state);
  // nor can a live set that outgrows a half: the commit that would overflow is refused whole
  let err;
  let i = 0;
  for (; i < 1000; i++) {
    try {
      pool.commit([{ type: 'put', name: `fill/${String(i).padStart(4, '0')}`, offset: 0, length: 0, meta: new Uint8Array(200) }]);
    } catch (e) {
      err = e;
      break;
    }
  }
  t.true(err instanceof ShelfError, String(err));
  if (err) t.is(err.code, 'ESHELF_FULL', err.message);
  t.false(pool.has(`fill/${String(i).padStart(4, '0')}`));
  const before = dump(pool);
  pool.close();
  const again = openPool(t, p, { layout: 'single' });
  t.deepEqual(dump(again), before);
  // erasing makes room again
  again.commit([{ type: 'erase', name: 'fill/0000' }, { type: 'erase', name: 'fill/0001' }]);
  putBytes(again, 'room', Buffer.alloc(0), Buffer.from('ok'));
  t.true(again.has('room'));
});

test('a single-layout file is not a pair-layout pool and vice versa', (t) => {
  const dir = tempDir(t);
  const single = path.join(dir, 'single');
  Pool.open(single, { size: MiB, layout: 'single' }).close();
  // opening it with the (default) pair layout says what is there instead of creating PATH.data/.map beside it
  throwsShelf(t, () => Pool.open(single, { create: false }), 'ESHELF_EXISTS', ['single']);
  throwsShelf(t, () => Pool.open(single, { size: MiB }), 'ESHELF_EXISTS', ['single']);
  t.deepEqual(ls(dir), ['single']);
  const pair = path.join(dir, 'pair');
  Pool.open(pair, { size: MiB }).close();
  const err = t.throws(() => Pool.open(`${pair}.data`, { layout: 'single' }), { instanceOf: ShelfError });
  if (err) t.true(['ESHELF_CORRUPT', 'ESHELF_TYPE', 'ESHELF_EXISTS'].includes(err.code), `${err.code}: ${err.message}`);
  t.true(fs.existsSync(`${pair}.map`));
  const pool = openPool(t, pair);
  t.deepEqual(pool.names(), [], 'the pair pool is intact');
});
