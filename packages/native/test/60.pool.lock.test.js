'use strict';
// Locking: one writer, many readers, across and within processes; readers see whole batches only.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const {
  Pool,
  FIXTURES,
  tempDir,
  openPool,
  pattern,
  sha1,
  readAt,
  putBytes,
  dump,
  throwsShelf,
  runFixture,
  childReport,
  jsonLines,
  startHolder,
} = require('./helpers');

const MiB = 1 << 20;

function makePool(p, layout = 'pair') {
  const pool = Pool.open(p, { size: 4 * MiB, layout });
  putBytes(pool, 'x', pattern('x', 1000), Buffer.from('x'));
  const state = dump(pool);
  pool.close();
  return state;
}

for (const layout of ['pair', 'single']) {
  test(`${layout}: a second writer in another process is ESHELF_LOCKED naming the pool`, async (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'lockedpool');
    const state = makePool(p, layout);
    // the other process holds it; we try
    const h = await startHolder(t, p, { layout });
    t.true(h.first.ready, JSON.stringify(h.first));
    throwsShelf(t, () => Pool.open(p, { layout }), 'ESHELF_LOCKED', ['lockedpool']);
    throwsShelf(t, () => Pool.open(p, { layout, size: MiB, forceNew: true }), 'ESHELF_LOCKED', ['lockedpool']);
    throwsShelf(t, () => Pool.destroy(p, layout), 'ESHELF_LOCKED', ['lockedpool']);
    t.deepEqual(await h.send({ op: 'dump' }), state, 'the refused forceNew/destroy erased nothing');
    await h.send({ op: 'close' });
    await h.kill();
    // we hold it; the other process tries
    const pool = openPool(t, p, { layout });
    const r = runFixture('dump-child.js', [p, JSON.stringify({ layout })]);
    const [out] = jsonLines(r.stdout);
    t.truthy(out, childReport(r));
    if (out) {
      t.is(out.error, 'ESHELF_LOCKED', out.message);
      t.true(String(out.message).includes('lockedpool'), out.message);
    }
    const r2 = runFixture('dump-child.js', [p, JSON.stringify({ layout, size: MiB, forceNew: true })]);
    t.is((jsonLines(r2.stdout)[0] || {}).error, 'ESHELF_LOCKED', childReport(r2));
    t.deepEqual(dump(pool), state);
  });

  test(`${layout}: a second writer in the same process is ESHELF_LOCKED; after close it can open`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'samepool');
    makePool(p, layout);
    const first = Pool.open(p, { layout });
    throwsShelf(t, () => Pool.open(p, { layout }), 'ESHELF_LOCKED', ['samepool']);
    throwsShelf(t, () => Pool.open(p, { layout, size: MiB, forceNew: true }), 'ESHELF_LOCKED', ['samepool']);
    t.true(first.has('x'), 'the refused opens did not disturb the holder');
    putBytes(first, 'y', pattern('y', 10));
    first.close();
    const second = openPool(t, p, { layout });
    t.true(second.has('y'));
  });

  test(`${layout}: readOnly openers coexist with one writer, in this and other processes`, async (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    makePool(p, layout);
    const r1 = openPool(t, p, { layout, readOnly: true }); // a reader first
    const w = openPool(t, p, { layout }); // then the writer
    const r2 = openPool(t, p, { layout, readOnly: true }); // then another reader
    const hr = await startHolder(t, p, { layout, readOnly: true }); // and one in another process
    t.true(hr.first.ready, JSON.stringify(hr.first));
    const r = runFixture('dump-child.js', [p, JSON.stringify({ layout, readOnly: true })]);
    t.truthy((jsonLines(r.stdout)[0] || {}).entries, childReport(r));
    putBytes(w, 'new', pattern('new', 100));
    t.true(r1.refresh());
    t.true(r2.refresh());
    t.true(r1.has('new') && r2.has('new'));
    const hs = await hr.send({ op: 'refresh' });
    t.true(hs.changed, JSON.stringify(hs));
    t.deepEqual(hs.state, dump(w));
    // a reader is still refused as a second writer
    throwsShelf(t, () => Pool.open(p, { layout }), 'ESHELF_LOCKED', ['p']);
    await hr.kill();
  });
}

test('refresh() returns false when nothing changed and true when a batch arrived', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  makePool(p);
  const w = openPool(t, p);
  const r = openPool(t, p, { readOnly: true });
  t.false(r.refresh());
  const before = dump(r);
  putBytes(w, 'a', pattern('a', 100));
  t.deepEqual(dump(r), before, 'a reader does not change between refreshes');
  t.true(r.refresh());
  t.deepEqual(dump(r), dump(w));
  t.false(r.refresh());
});

test('a reader follows the writer through compaction and grow', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  makePool(p);
  const w = openPool(t, p);
  const r = openPool(t, p, { readOnly: true });
  for (let i = 0; i < 30; i++) putBytes(w, 'hot', pattern(`h${i}`, 5000), Buffer.from(String(i)));
  w.compact();
  putBytes(w, 'after-compact', pattern('ac', 100));
  t.true(r.refresh());
  t.deepEqual(dump(r), dump(w));
  w.grow(w.size * 8);
  const big = w.alloc(8 * MiB);
  new Uint8Array(w.view(big, 8 * MiB)).set(pattern('big', 8 * MiB));
  w.commit([{ type: 'put', name: 'big', offset: big, length: 8 * MiB }]);
  t.true(r.refresh());
  t.deepEqual(dump(r), dump(w));
  t.deepEqual(readAt(r, r.get('big').offset, 8 * MiB), pattern('big', 8 * MiB), 'the reader can view the grown region');
  t.true(r.stats().size >= w.stats().size);
  // a new writer is still refused after the compaction replaced the .map
  throwsShelf(t, () => Pool.open(p), 'ESHELF_LOCKED', ['p']);
});

test('the writer lock survives compaction (a second writer in another process is still refused)', async (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  makePool(p);
  const h = await startHolder(t, p, {});
  for (let i = 0; i < 5; i++) await h.send({ op: 'put', name: 'hot', text: `v${i}` });
  t.deepEqual(await h.send({ op: 'compact' }), { ok: true });
  throwsShelf(t, () => Pool.open(p), 'ESHELF_LOCKED', ['p']);
  throwsShelf(t, () => Pool.open(p, { size: MiB, forceNew: true }), 'ESHELF_LOCKED', ['p']);
  const reply = await h.send({ op: 'put', name: 'after', text: 'x' });
  t.true(reply.seq > 0, JSON.stringify(reply));
  await h.send({ op: 'close' });
  const pool = openPool(t, p);
  t.true(pool.has('after'));
  t.deepEqual(readAt(pool, pool.get('hot').offset, 2), Buffer.from('v4'));
});

test('a SIGKILLed writer releases its lock, and what it committed is there', async (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  makePool(p);
  const h = await startHolder(t, p, {});
  const { seq } = await h.send({ op: 'put', name: 'before-kill', text: 'committed' });
  throwsShelf(t, () => Pool.open(p), 'ESHELF_LOCKED', ['p']);
  const { signal } = await h.kill('SIGKILL');
  t.is(signal, 'SIGKILL');
  const pool = openPool(t, p);
  t.is(pool.get('before-kill').seq, seq);
  t.deepEqual(readAt(pool, pool.get('before-kill').offset, 9), Buffer.from('committed'));
});

test('a SIGKILLed reader releases its shared lock', async (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  makePool(p);
  const h = await startHolder(t, p, { readOnly: true });
  throwsShelf(t, () => Pool.destroy(p), 'ESHELF_LOCKED', ['p']);
  await h.kill('SIGKILL');
  t.notThrows(() => Pool.destroy(p));
  t.false(Pool.exists(p));
});

test('a reader sees only committed state: whole batches, in order, with intact data', async (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const seed = Pool.open(p, { size: 16 * MiB });
  seed.close();
  const reader = openPool(t, p, { readOnly: true });
  const BATCHES = 3000;
  const child = spawn(process.execPath, [path.join(FIXTURES, 'writer-child.js'), p, String(BATCHES)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  let exited = false;
  const done = new Promise((resolve) =>
    child.on('close', (code, signal) => { // 'close': after the last stdout data, unlike 'exit'
      exited = true;
      resolve({ code, signal });
    }),
  );
  t.teardown(() => {
    if (!exited) child.kill('SIGKILL');
  });

  const len = (i) => 100 + ((i * 977) % 9000);
  const expectedPairs = (c) => {
    const s = [];
    for (let i = Math.max(1, c - 6); i <= c; i++) s.push(i);
    return s;
  };
  const verified = new Set();
  const problems = [];
  let lastSeq = reader.stats().seq;
  let lastCounter = 0;
  let refreshes = 0;
  let changes = 0;
  const check = () => {
    const seq = reader.stats().seq;
    if (seq < lastSeq) problems.push(`seq went back ${lastSeq} -> ${seq}`);
    lastSeq = seq;
    const counter = reader.get('counter');
    const c = counter ? Number(counter.meta.toString()) : 0;
    if (c < lastCounter) problems.push(`counter went back ${lastCounter} -> ${c}`);
    lastCounter = c;
    if (counter && counter.seq !== seq) problems.push(`counter seq ${counter.seq} != pool seq ${seq}`);
    const names = reader.names('pair/');
    const want = expectedPairs(c).flatMap((i) => [`pair/${i}/a`, `pair/${i}/b`]).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    if (JSON.stringify(names) !== JSON.stringify(want)) {
      problems.push(`at counter ${c}: saw ${names.length} pair entries, expected ${want.length} (a partial batch is visible)`);
    }
    // Data: the writer does not know about our views, so once it erases an entry it may reuse the extent at
    // once. A read is conclusive only if the entry is still committed, unchanged, at the NEXT refresh: then
    // the extent was live during the read, and its bytes must be exactly the committed value.
    for (const [key, p] of pendingData) {
      const e = reader.get(p.name);
      if (e && e.offset === p.offset && e.seq === p.seq) {
        if (!p.ok) problems.push(`${p.name}: data not intact while committed (seq ${p.seq}, offset ${p.offset})`);
        verified.add(key);
        conclusive++;
      }
      pendingData.delete(key);
    }
    for (const name of names) {
      const e = reader.get(name);
      const key = `${name}@${e.offset}#${e.seq}`;
      if (verified.has(key) || pendingData.has(key)) continue;
      const [, i, side] = name.split('/');
      const ok = e.length === len(Number(i)) && sha1(readAt(reader, e.offset, e.length)) === sha1(pattern(`${i}/${side}`, len(Number(i))));
      pendingData.set(key, { name, offset: e.offset, seq: e.seq, ok });
    }
  };
  const pendingData = new Map();
  let conclusive = 0;
  while (!exited) {
    refreshes++;
    if (reader.refresh()) changes++;
    check();
    if (problems.length > 5) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  const { code } = await done;
  t.is(code, 0, `writer: ${err}`);
  if (code !== 0) return; // the writer's stderr is in the assertion above
  reader.refresh();
  check();
  reader.refresh();
  check(); // settles the reads of the final state: nothing changes any more
  t.deepEqual(problems, []);
  t.is(pendingData.size, 0);
  t.true(conclusive >= 14, `${conclusive} conclusive data checks`);
  t.is(lastCounter, BATCHES);
  t.is(reader.stats().seq, JSON.parse(out.trim()).seq);
  t.log(`${refreshes} refreshes, ${changes} saw new batches, ${conclusive} conclusive data checks`);
});
