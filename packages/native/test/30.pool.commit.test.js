'use strict';
// commit: atomic batches, meta, entry names, listing, compaction.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { Pool, ShelfError, tempDir, openPool, pattern, writeAt, readAt, putBytes, dump, throwsShelf, ls } = require('./helpers');

const MiB = 1 << 20;

/** Allocate and fill an extent for `name` (not committed). Returns a put op. */
function stage(pool, name, len, meta) {
  const offset = pool.alloc(len);
  writeAt(pool, offset, pattern(name + len, len));
  const op = { type: 'put', name, offset, length: len };
  if (meta !== undefined) op.meta = meta;
  return op;
}

/** Assert a batch threw and left the pool (memory and disk) exactly as before. */
function assertNothingApplied(t, pool, p, fn, check) {
  const before = dump(pool);
  const logBytes = pool.stats().logBytes;
  const err = t.throws(fn);
  if (err && check) check(err);
  t.deepEqual(dump(pool), before, 'a failed batch is not visible');
  t.is(pool.stats().logBytes, logBytes, 'a failed batch appends nothing to the log');
  return { before, err };
}

test('a batch of puts and erases applies atomically, in order, and seqs increase', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 4 * MiB });
  const s1 = pool.commit([stage(pool, 'a', 100), stage(pool, 'b', 5000, Buffer.from('b1'))]);
  t.true(Number.isSafeInteger(s1) && s1 > 0);
  t.deepEqual(pool.names(), ['a', 'b']);
  const b2 = stage(pool, 'b', 7000, Buffer.from('b2'));
  const s2 = pool.commit([stage(pool, 'c', 64), { type: 'erase', name: 'a' }, b2]);
  t.true(s2 > s1);
  t.deepEqual(pool.names(), ['b', 'c']);
  t.false(pool.has('a'));
  t.is(pool.get('a'), null);
  const b = pool.get('b');
  t.is(b.name, 'b');
  t.is(b.offset, b2.offset);
  t.is(b.length, 7000);
  t.is(b.seq, s2);
  t.deepEqual(b.meta, Buffer.from('b2'));
  t.true(Buffer.isBuffer(b.meta));
  t.is(pool.get('c').seq, s2);
  t.deepEqual(readAt(pool, b.offset, 7000), pattern('b7000', 7000));
  t.is(pool.stats().seq, s2);
  const state = dump(pool);
  pool.close();

  const again = openPool(t, p);
  t.deepEqual(dump(again), state);
  const s3 = again.commit([{ type: 'erase', name: 'c' }]);
  t.is(s3, s2 + 1, 'seq continues across a re-open');
});

test('erase then put of the same name in one batch: the put wins', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  putBytes(pool, 'n', pattern('old', 100));
  const op = stage(pool, 'n', 200);
  pool.commit([{ type: 'erase', name: 'n' }, op]);
  t.is(pool.get('n').offset, op.offset);
  t.is(pool.get('n').length, 200);
});

test('a batch that fails anywhere applies nothing, in memory or on disk', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 4 * MiB });
  putBytes(pool, 'existing', pattern('e', 1000), Buffer.from('e'));

  const x = stage(pool, 'x', 1000);
  assertNothingApplied(t, pool, p, () => pool.commit([x, { type: 'erase', name: 'existing' }, { type: 'erase', name: 'missing' }]), (err) => {
    t.true(err instanceof ShelfError);
    t.is(err.code, 'ESHELF_NOT_FOUND');
    t.true(err.message.includes('missing'), err.message);
  });
  assertNothingApplied(t, pool, p, () => pool.commit([x, stage(pool, '', 10)]), (err) => {
    t.is(err.code, 'ESHELF_NAME');
  });
  assertNothingApplied(t, pool, p, () => pool.commit([x, { type: 'put', name: 'big-meta', offset: 0, length: 0, meta: new Uint8Array(MiB + 1) }]));
  assertNothingApplied(t, pool, p, () => pool.commit([x, { type: 'frobnicate', name: 'y' }]), (err) => {
    t.true(err instanceof TypeError, err.message);
  });
  // the staged extent is still the caller's: it can be committed now
  pool.commit([x]);
  t.deepEqual(readAt(pool, pool.get('x').offset, 1000), pattern('x1000', 1000));
  const state = dump(pool);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(dump(again), state);
});

test('erase of a missing name is ESHELF_NOT_FOUND naming the entry', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  throwsShelf(t, () => pool.commit([{ type: 'erase', name: 'nope/π' }]), 'ESHELF_NOT_FOUND', ['nope/π']);
  putBytes(pool, 'once', pattern('o', 10));
  pool.commit([{ type: 'erase', name: 'once' }]);
  throwsShelf(t, () => pool.commit([{ type: 'erase', name: 'once' }]), 'ESHELF_NOT_FOUND', ['once']);
  // two erases of the same name in one batch: the second finds nothing
  putBytes(pool, 'twice', pattern('t', 10));
  throwsShelf(t, () => pool.commit([{ type: 'erase', name: 'twice' }, { type: 'erase', name: 'twice' }]), 'ESHELF_NOT_FOUND', ['twice']);
  t.true(pool.has('twice'));
});

test('meta round-trips byte for byte, up to 1 MiB, and is copied both ways', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 8 * MiB });
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const metas = {
    none: undefined,
    empty: new Uint8Array(0),
    one: Buffer.from([0]),
    bytes: all,
    u8: new Uint8Array([9, 8, 7]),
    big: pattern('meta', 65536),
    max: pattern('max', MiB),
  };
  for (const [name, meta] of Object.entries(metas)) putBytes(pool, name, pattern(name, 64), meta);
  const check = (pl) => {
    for (const [name, meta] of Object.entries(metas)) {
      const e = pl.get(name);
      t.true(Buffer.isBuffer(e.meta), name);
      t.deepEqual(e.meta, Buffer.from(meta || []), name);
    }
  };
  check(pool);
  // the caller's buffer is copied at commit; the returned buffer is a copy
  const mine = Buffer.from('mutable');
  putBytes(pool, 'mine', Buffer.alloc(0), mine);
  mine.fill(0);
  t.deepEqual(pool.get('mine').meta, Buffer.from('mutable'));
  pool.get('mine').meta.fill(1);
  t.deepEqual(pool.get('mine').meta, Buffer.from('mutable'));
  t.deepEqual(pool.entries('mi')[0].meta, Buffer.from('mutable'));
  pool.close();
  const again = openPool(t, p);
  check(again);
  t.deepEqual(again.get('mine').meta, Buffer.from('mutable'));
});

test('meta over 1 MiB or of the wrong type is refused', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  const err = t.throws(() => pool.commit([{ type: 'put', name: 'm', offset: 0, length: 0, meta: new Uint8Array(MiB + 1) }]));
  t.true(err instanceof RangeError || err instanceof ShelfError, `${err && err.name}: ${err && err.message}`);
  for (const meta of ['text', 42, [1, 2, 3], { a: 1 }]) {
    t.throws(() => pool.commit([{ type: 'put', name: 'm', offset: 0, length: 0, meta }]), { instanceOf: TypeError }, JSON.stringify(meta));
  }
  t.false(pool.has('m'));
});

test('a put with length 0 at offset 0 is a meta-only entry', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: MiB });
  const used = pool.stats().used;
  const seq = pool.commit([{ type: 'put', name: 'scalar', offset: 0, length: 0, meta: Buffer.from('3.14') }]);
  const e = pool.get('scalar');
  t.deepEqual(e, { name: 'scalar', offset: 0, length: 0, meta: Buffer.from('3.14'), seq });
  t.is(pool.stats().used, used);
  t.is(pool.stats().entries, 1);
  // replacing a meta-only entry by one with data and back
  putBytes(pool, 'scalar', pattern('s', 100));
  t.is(pool.get('scalar').length, 100);
  pool.commit([{ type: 'put', name: 'scalar', offset: 0, length: 0, meta: Buffer.from('2.71') }]);
  t.is(pool.get('scalar').length, 0);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(again.get('scalar').meta, Buffer.from('2.71'));
  t.is(again.get('scalar').length, 0);
});

test('a put naming the extent the entry already has changes only its meta', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: MiB });
  const { offset } = putBytes(pool, 'x', pattern('x', 10000), Buffer.from('v1'));
  const before = pool.stats();
  pool.commit([{ type: 'put', name: 'x', offset, length: 10000, meta: Buffer.from('v2') }]);
  const after = pool.stats();
  t.is(after.used, before.used);
  t.is(after.free, before.free, 'the extent was not freed');
  t.is(after.pinned, before.pinned);
  t.deepEqual(pool.get('x').meta, Buffer.from('v2'));
  t.deepEqual(readAt(pool, offset, 10000), pattern('x', 10000));
  // the extent still belongs to x: nothing else may be allocated over it
  const others = [];
  for (;;) {
    try {
      others.push(pool.alloc(4096));
    } catch {
      break;
    }
  }
  for (const o of others) t.false(o >= offset && o < offset + 10000, `alloc ${o} inside x`);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(again.get('x').meta, Buffer.from('v2'));
  t.deepEqual(readAt(again, offset, 10000), pattern('x', 10000));
});

test('a put naming an extent it does not own is refused and applies nothing', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = openPool(t, p, { size: MiB });
  const a = putBytes(pool, 'a', pattern('a', 8192));
  const mine = pool.alloc(4096);
  const cases = [
    ['never allocated', { offset: 512 * 1024, length: 64 }],
    ['another entry\'s extent', { offset: a.offset, length: 8192 }],
    ['inside another entry\'s extent', { offset: a.offset + 4096, length: 64 }],
    ['longer than its allocation', { offset: mine, length: 8192 }],
    ['past the region', { offset: pool.size, length: 64 }],
    ['offset 0 with data', { offset: 0, length: 64 }],
  ];
  for (const [what, ext] of cases) {
    assertNothingApplied(t, pool, p, () => pool.commit([{ type: 'put', name: 'b', ...ext }]));
    t.false(pool.has('b'), what);
  }
  t.deepEqual(readAt(pool, a.offset, 8192), pattern('a', 8192));
  t.is(pool.get('a').offset, a.offset);
});

test('commit argument misuse is a TypeError and applies nothing', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = openPool(t, p, { size: MiB });
  const off = pool.alloc(64);
  for (const ops of [
    undefined,
    'put',
    [null],
    [{ type: 'put', offset: off, length: 64 }],
    [{ type: 'put', name: 42, offset: off, length: 64 }],
    [{ type: 'put', name: 'n', offset: '64', length: 64 }],
    [{ type: 'put', name: 'n', offset: off }],
    [{ type: 'erase' }],
  ]) {
    const err = t.throws(() => pool.commit(ops), undefined, JSON.stringify(ops));
    if (err) t.true(err instanceof TypeError || err instanceof RangeError, `${JSON.stringify(ops)}: ${err.name}: ${err.message}`);
  }
  t.deepEqual(pool.names(), []);
});

test('an empty batch never leaves the log unreadable', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: MiB });
  putBytes(pool, 'a', pattern('a', 100));
  const state = dump(pool);
  try {
    pool.commit([]);
  } catch (err) {
    t.true(err instanceof TypeError || err instanceof RangeError || err instanceof ShelfError, err.message);
  }
  putBytes(pool, 'b', pattern('b', 100));
  const state2 = dump(pool);
  t.deepEqual(state2.entries.filter((e) => e.name === 'a'), state.entries);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(dump(again), state2);
});

test('entry names: 1..255 bytes of valid UTF-8, else ESHELF_NAME', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 4 * MiB });
  const good = [
    'a',
    'a'.repeat(255),
    'é'.repeat(127), // 254 bytes
    'é'.repeat(127) + 'x', // 255 bytes
    '€'.repeat(85), // 255 bytes
    '😀'.repeat(63) + 'abc', // 252 + 3
    'with space/and/slashes',
    '\u{10FFFF}',
    '.hidden',
  ];
  const bad = [
    ['empty', ''],
    ['256 ASCII bytes', 'a'.repeat(256)],
    ['256 bytes of é', 'é'.repeat(128)],
    ['256 bytes with a 4-byte char at the end', 'a'.repeat(252) + '😀'],
    ['lone high surrogate', '\uD800'],
    ['lone low surrogate', 'a\uDC00b'],
    ['swapped pair', '\uDE00\uD83D'],
    ['high surrogate at the end', 'abc\uD83D'],
  ];
  for (const name of good) {
    t.notThrows(() => putBytes(pool, name, pattern(name, 64)), `${Buffer.byteLength(name)} bytes`);
    t.true(pool.has(name));
  }
  for (const [what, name] of bad) {
    const off = pool.alloc(64);
    const err = t.throws(() => pool.commit([{ type: 'put', name, offset: off, length: 64 }]), { instanceOf: ShelfError }, what);
    if (err) t.is(err.code, 'ESHELF_NAME', `${what}: ${err.message}`);
    pool.release(off);
    const err2 = t.throws(() => pool.commit([{ type: 'erase', name }]), { instanceOf: ShelfError }, `erase ${what}`);
    if (err2) t.is(err2.code, 'ESHELF_NAME', `erase ${what}: ${err2.message}`);
  }
  const err = throwsShelf(t, () => putBytes(pool, 'x'.repeat(300), pattern('x', 1)), 'ESHELF_NAME');
  if (err) t.true(err.message.includes('xxxxxxxx'), 'the message shows the name');
  t.deepEqual(pool.names().sort(), [...good].sort());
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(again.names().sort(), [...good].sort());
  for (const name of good) t.deepEqual(readAt(again, again.get(name).offset, 64), pattern(name, 64), name);
});

test('names() and entries() filter by prefix and sort by UTF-8 bytes', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 4 * MiB });
  // UTF-16 order would put '😀' (D83D) before 'ｚ' (FF5A); UTF-8 byte order puts it after (F0 > EF)
  const names = ['b', 'a/2', 'a/10', 'a/1', 'ｚ', '😀', 'é', 'A', 'a', 'ab'];
  for (const n of names) putBytes(pool, n, Buffer.alloc(0), Buffer.from(n));
  const byUtf8 = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  t.deepEqual(pool.names(), byUtf8);
  t.deepEqual(pool.names(''), byUtf8);
  t.deepEqual(pool.names('a/'), ['a/1', 'a/10', 'a/2']);
  t.deepEqual(pool.names('a'), ['a', 'a/1', 'a/10', 'a/2', 'ab']);
  t.deepEqual(pool.names('zzz'), []);
  t.deepEqual(
    pool.entries('a/').map((e) => e.name),
    ['a/1', 'a/10', 'a/2'],
  );
  t.deepEqual(
    pool.entries().map((e) => e.name),
    byUtf8,
  );
  for (const e of pool.entries()) t.deepEqual(e, pool.get(e.name));
  t.true(pool.has('ｚ'));
  t.false(pool.has('z'));
});

test('a large batch (1000 puts) commits and re-opens', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 16 * MiB });
  const ops = [];
  for (let i = 0; i < 1000; i++) ops.push(stage(pool, `k/${i}`, 1 + (i % 200), Buffer.from(String(i))));
  const seq = pool.commit(ops);
  t.is(pool.stats().entries, 1000);
  t.true(pool.entries('k/').every((e) => e.seq === seq));
  const state = dump(pool);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(dump(again), state);
});

test('compact() rewrites the log to its live size and changes no state', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 8 * MiB });
  for (let i = 0; i < 20; i++) putBytes(pool, `stable/${i}`, pattern(`s${i}`, 500), Buffer.from(`m${i}`));
  for (let i = 0; i < 300; i++) putBytes(pool, 'hot', pattern(`h${i}`, 1000), Buffer.from(`v${i}`));
  pool.commit([{ type: 'erase', name: 'stable/0' }]);
  const before = pool.stats();
  t.true(before.logBytes > before.liveLogBytes, `logBytes ${before.logBytes} liveLogBytes ${before.liveLogBytes}`);
  const state = dump(pool);

  pool.compact();
  const after = pool.stats();
  t.true(after.logBytes < before.logBytes, `logBytes ${before.logBytes} -> ${after.logBytes}`);
  t.is(after.logBytes, after.liveLogBytes);
  t.is(after.seq, before.seq);
  t.is(fs.statSync(`${p}.map`).size, after.logBytes, 'logBytes is the size of the .map');
  t.deepEqual(dump(pool), state);
  t.deepEqual(ls(dir), ['p.data', 'p.map'], 'no temp files left');
  pool.compact(); // compacting a compact log is harmless
  t.deepEqual(dump(pool), state);

  // keeps working after compaction, and all of it survives a re-open
  const seq = putBytes(pool, 'after', pattern('after', 100)).seq;
  t.is(seq, before.seq + 1);
  const state2 = dump(pool);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(dump(again), state2);
  t.deepEqual(readAt(again, again.get('hot').offset, 1000), pattern('h299', 1000));
});

test('the log compacts itself: it stays within about twice its live size', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 8 * MiB });
  // ~60 KB of live index, so that twice of it is past any minimum size the engine compacts at
  for (let i = 0; i < 50; i++) putBytes(pool, `live/${i}`, Buffer.alloc(0), pattern(`l${i}`, 1200));
  let maxRatio = 0;
  let last;
  for (let i = 0; i < 600; i++) {
    putBytes(pool, `live/${i % 50}`, Buffer.alloc(0), pattern(`l${i}`, 1200));
    last = pool.stats();
    maxRatio = Math.max(maxRatio, last.logBytes / last.liveLogBytes);
  }
  t.true(maxRatio < 3, `log reached ${maxRatio.toFixed(2)} x its live size`);
  const state = dump(pool);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(dump(again), state);
  t.deepEqual(ls(dir), ['p.data', 'p.map']);
});
