'use strict';
// Recovery: torn last batch at every byte, damage in the middle, truncated/zero/garbage files, crafted batches.
//
// Damaged copies are opened in a child process (fixtures/mutate-open.js) so that a crash of the engine is
// reported as "crashed on case X" instead of taking the test worker down.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Pool, ShelfError, tempDir, pattern, writeAt, dump, runFixture, childReport, jsonLines } = require('./helpers');
const { parseLog, encodeBatch, singleLogStart, OP_PUT, OP_ERASE } = require('./helpers/log');

const MiB = 1 << 20;

function stage(pool, name, len, meta) {
  const offset = len ? pool.alloc(len) : 0;
  if (len) writeAt(pool, offset, pattern(`${name}:${len}:${meta}`, len));
  return { type: 'put', name, offset, length: len, meta: Buffer.from(meta) };
}

/** The four batches every recovery test starts from. Long names make the batches wide. */
const BATCHES = [
  (pool) => [stage(pool, 'a-first-entry', 1000, 'a1'), stage(pool, 'b-second-entry', 5000, 'b1')],
  (pool) => [stage(pool, 'c-meta-only', 0, 'c2'), stage(pool, 'a-first-entry', 2000, 'a2')],
  (pool) => [{ type: 'erase', name: 'b-second-entry' }, stage(pool, 'd-fourth-entry-ü', 300, 'd3')],
  (pool) => [
    stage(pool, 'e-fifth-entry-with-a-longer-name', 100, 'e4'),
    stage(pool, 'c-meta-only', 0, 'c4-meta-bytes'),
    { type: 'erase', name: 'd-fourth-entry-ü' },
  ],
];

/**
 * Build a pool with the four batches in DIR/src. Returns the source files, the damaged-copy targets,
 * the state after each batch (expected[0] = empty), and where each batch lies in the log.
 */
function build(t, layout) {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'src'));
  fs.mkdirSync(path.join(dir, 'work'));
  const srcPool = path.join(dir, 'src', 'p');
  const workPool = path.join(dir, 'work', 'p');
  const opts = layout === 'single' ? { layout, size: 256 * 1024, logSize: 65536 } : { layout, size: 256 * 1024 };
  const pool = Pool.open(srcPool, opts);
  const files = (p) => (layout === 'pair' ? [`${p}.data`, `${p}.map`] : [p]);
  const logFile = layout === 'pair' ? 1 : 0;
  const expected = [dump(pool)];
  const logEnds = [fs.statSync(files(srcPool)[logFile]).size];
  for (const b of BATCHES) {
    pool.commit(b(pool));
    expected.push(dump(pool));
    logEnds.push(fs.statSync(files(srcPool)[logFile]).size);
  }
  const size = pool.size;
  pool.close();
  const logBuf = fs.readFileSync(files(srcPool)[logFile]);
  const log = parseLog(logBuf, layout === 'pair' ? 0 : singleLogStart(logBuf).start);
  return { dir, layout, src: files(srcPool), dst: files(workPool), pool: workPool, logFile, expected, logEnds, log, logBuf, size };
}

let jobCounter = 0;
/** Run cases through the child; returns Map id -> result. A crash fails the test naming the case. */
function run(t, ctx, cases) {
  const jobPath = path.join(ctx.dir, `job-${++jobCounter}.json`);
  fs.writeFileSync(jobPath, JSON.stringify({ layout: ctx.layout, src: ctx.src, dst: ctx.dst, pool: ctx.pool, cases }));
  const r = runFixture('mutate-open.js', [jobPath], { timeout: 600000 });
  const lines = jsonLines(r.stdout);
  const results = new Map(lines.filter((l) => l.id !== undefined).map((l) => [l.id, l]));
  if (r.status !== 0 || results.size !== cases.length) {
    const started = lines.filter((l) => l.start !== undefined).map((l) => l.start);
    const crashed = started.find((id) => !results.has(id));
    t.fail(`the engine crashed (or the child failed) on case ${JSON.stringify(crashed)}: ${childReport(r)}`);
  }
  return results;
}

/** Check every case with `check(result) -> string|null`; report the first failures compactly. */
function checkAll(t, results, check) {
  const failures = [];
  for (const [id, res] of results) {
    const why = check(res);
    if (why) failures.push(`${id}: ${why}`);
  }
  t.deepEqual(failures.slice(0, 15), [], `${failures.length} of ${results.size} cases failed`);
  t.true(results.size > 0);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
/** A state without the data hashes: bytes of entries that later (durable) batches freed may have been reused. */
const names = (state) => ({ ...state, entries: state.entries.map(({ data, ...e }) => e) });
const show = (r) => (r ? (r.error ? `${r.error}: ${r.message}` : `state seq ${r.state && r.state.seq} entries ${r.state && r.state.entries && r.state.entries.map((e) => e.name).join(',')}`) : 'missing');

/** A torn case must recover to `want` in every mode, truncate (pair) the log to `wantLogEnd`, and accept a new commit. */
function tornCheck(ctx, want, wantLogEnd) {
  return (res) => {
    for (const mode of ['ro', 'rw']) {
      if (!res[mode] || !res[mode].state || !same(res[mode].state, want)) return `${mode}: expected state seq ${want.seq}, got ${show(res[mode])}`;
    }
    if (ctx.layout === 'pair' && res.sizes[ctx.logFile] !== wantLogEnd) {
      return `writable open left the .map at ${res.sizes[ctx.logFile]} bytes, expected ${wantLogEnd}`;
    }
    if (!res.commit || !res.commit.state) return `commit after recovery failed: ${show(res.commit)}`;
    if (res.commit.state.seq !== want.seq + 1) return `commit after recovery got seq ${res.commit.state.seq}, expected ${want.seq + 1}`;
    const after = res.ro2 && res.ro2.state;
    if (!after) return `re-open after the recovery commit: ${show(res.ro2)}`;
    const extra = after.entries.filter((e) => e.name === 'zz-after-recovery');
    const rest = after.entries.filter((e) => e.name !== 'zz-after-recovery');
    if (extra.length !== 1 || !same(rest, want.entries) || after.seq !== want.seq + 1) {
      return `after recovery + commit: ${show(res.ro2)}`;
    }
    return null;
  };
}

const TORN_MODES = ['ro', 'rw', 'commit', 'ro2'];

for (const layout of ['pair', 'single']) {
  test(`${layout}: the builder's view of the log matches the engine's`, (t) => {
    const ctx = build(t, layout);
    t.is(ctx.log.batches.length, 4);
    ctx.log.batches.forEach((b, i) => t.is(b.seq, ctx.expected[i + 1].seq, `batch ${i + 1} seq`));
    if (layout === 'pair') {
      t.deepEqual(
        ctx.log.batches.map((b) => b.end),
        ctx.logEnds.slice(1),
        'each commit ends exactly at the .map size after it',
      );
      t.is(ctx.logEnds[0], 64, 'a new .map is just its header');
    }
    // an undamaged copy opens to the final state
    const res = run(t, ctx, [{ id: 'clean', mutations: [], modes: TORN_MODES }]);
    checkAll(t, res, tornCheck(ctx, ctx.expected[4], ctx.logEnds[4]));
  });

  test(`${layout}: a torn last batch (cut at every byte) recovers to the previous state`, (t) => {
    const ctx = build(t, layout);
    const last = ctx.log.batches[3];
    const cases = [];
    for (let at = last.start; at < last.end; at++) {
      if (layout === 'pair') {
        cases.push({ id: `truncate@${at}`, mutations: [{ file: ctx.logFile, op: 'truncate', at }], modes: TORN_MODES });
      } else {
        // the single layout cannot be truncated: the unwritten rest of the batch reads as zeros
        // (a range that is zero already, such as the padding at the end of the last op, is no tear)
        if (ctx.logBuf.subarray(at, last.end).every((b) => b === 0)) continue;
        const hex = Buffer.alloc(last.end - at).toString('hex');
        cases.push({ id: `zero-from@${at}`, mutations: [{ file: 0, op: 'write', at, hex }], modes: TORN_MODES });
      }
    }
    t.true(cases.length > 100, `${cases.length} cases in a last batch of ${last.end - last.start} bytes`);
    checkAll(t, run(t, ctx, cases), tornCheck(ctx, ctx.expected[3], last.start));
  });

  test(`${layout}: a last batch whose tail holds zeros or stale garbage recovers to the previous state`, (t) => {
    const ctx = build(t, layout);
    const last = ctx.log.batches[3];
    const cases = [];
    for (let at = last.start; at < last.end; at += 3) {
      const n = last.end - at;
      if (ctx.logBuf.subarray(at, last.end).every((b) => b === 0)) continue; // zeros over zeros (op padding) is no tear
      cases.push({ id: `zero-from@${at}`, mutations: [{ file: ctx.logFile, op: 'write', at, hex: Buffer.alloc(n).toString('hex') }], modes: TORN_MODES });
      const junk = crypto.createHash('sha256').update(String(at)).digest();
      const garbage = Buffer.alloc(n);
      for (let i = 0; i < n; i++) garbage[i] = junk[i % 32];
      cases.push({ id: `garbage-from@${at}`, mutations: [{ file: ctx.logFile, op: 'write', at, hex: garbage.toString('hex') }], modes: TORN_MODES });
    }
    // one flipped bit anywhere in the last batch: it is the tail, so it is torn
    for (let at = last.start; at < last.end; at += 5) {
      cases.push({ id: `flip@${at}`, mutations: [{ file: ctx.logFile, op: 'xor', at, mask: 1 << (at % 8) }], modes: TORN_MODES });
    }
    checkAll(t, run(t, ctx, cases), tornCheck(ctx, ctx.expected[3], last.start));
  });

  test(`${layout}: bytes after the last batch (garbage, a replayed old batch) are a torn tail, never applied`, (t) => {
    const ctx = build(t, layout);
    const last = ctx.log.batches[3];
    const b3 = ctx.logBuf.subarray(ctx.log.batches[2].start, ctx.log.batches[2].end).toString('hex');
    const b1 = ctx.logBuf.subarray(ctx.log.batches[0].start, ctx.log.batches[0].end).toString('hex');
    const junk = crypto.randomBytes(100).toString('hex');
    const at = last.end;
    const op = layout === 'pair' ? (hex) => ({ file: ctx.logFile, op: 'append', hex }) : (hex) => ({ file: 0, op: 'write', at, hex });
    const cases = [
      { id: 'garbage', mutations: [op(junk)], modes: TORN_MODES },
      { id: 'replayed batch 3', mutations: [op(b3)], modes: TORN_MODES },
      { id: 'replayed batch 1', mutations: [op(b1)], modes: TORN_MODES },
      { id: 'one byte', mutations: [op('54')], modes: TORN_MODES },
      { id: 'batch magic only', mutations: [op(Buffer.from('TSMB').toString('hex'))], modes: TORN_MODES },
    ];
    checkAll(t, run(t, ctx, cases), tornCheck(ctx, ctx.expected[4], last.end));
  });

  test(`${layout}: damage in a middle batch followed by valid batches is ESHELF_CORRUPT or a consistent prefix, never a crash`, (t) => {
    const ctx = build(t, layout);
    const mid = ctx.log.batches[1];
    const cases = [];
    for (let at = mid.start; at < mid.end; at++) {
      cases.push({ id: `flip@${at}`, mutations: [{ file: ctx.logFile, op: 'xor', at, mask: 1 << (at % 8) }], modes: ['ro', 'rw', 'ro2'] });
    }
    cases.push({
      id: 'zeroed middle batch',
      mutations: [{ file: ctx.logFile, op: 'write', at: mid.start, hex: Buffer.alloc(mid.end - mid.start).toString('hex') }],
      modes: ['ro', 'rw', 'ro2'],
    });
    const prefix = ctx.expected[1];
    const full = ctx.expected[4];
    let corrupt = 0;
    checkAll(t, run(t, ctx, cases), (res) => {
      for (const mode of ['ro', 'rw', 'ro2']) {
        const r = res[mode];
        if (!r) return `${mode}: missing`;
        if (r.error) {
          if (r.error !== 'ESHELF_CORRUPT') return `${mode}: ${r.error}: ${r.message}`;
          if (!r.message.includes('p')) return `${mode}: message does not name the pool: ${r.message}`;
          corrupt++;
        } else if (!same(names(r.state), names(prefix))) {
          return `${mode}: neither ESHELF_CORRUPT nor the prefix state (seq ${prefix.seq}): ${show(r)}${same(r.state, full) ? ' (the damaged batch was ignored and later ones applied)' : ''}`;
        }
      }
      // a pool that refused to open writable must not have been modified
      if (res.rw.error && ctx.layout === 'pair' && res.sizes[ctx.logFile] !== ctx.logEnds[4]) return `a refused open changed the .map size to ${res.sizes[ctx.logFile]}`;
      return null;
    });
    t.log(`${corrupt} opens reported ESHELF_CORRUPT, the rest recovered a prefix`);
  });

  test(`${layout}: a damaged header is ESHELF_CORRUPT`, (t) => {
    const ctx = build(t, layout);
    const cases = [];
    // the superblock: magic, version, size, uuid, layout, geometry, crc -- all checksummed
    for (let at = 0; at < 128; at++) cases.push({ id: `super-flip@${at}`, mutations: [{ file: 0, op: 'xor', at, mask: 0x10 }], modes: ['ro', 'rw'] });
    // the log header
    for (let at = ctx.log.start; at < ctx.log.start + 64; at++) {
      cases.push({ id: `loghdr-flip@${at}`, mutations: [{ file: ctx.logFile, op: 'xor', at, mask: 0x04 }], modes: ['ro', 'rw'] });
    }
    checkAll(t, run(t, ctx, cases), (res) => {
      for (const mode of ['ro', 'rw']) {
        if (!res[mode] || res[mode].error !== 'ESHELF_CORRUPT') return `${mode}: expected ESHELF_CORRUPT, got ${show(res[mode])}`;
      }
      return null;
    });
  });

  test(`${layout}: truncated, empty and garbage files are ESHELF_CORRUPT`, (t) => {
    const ctx = build(t, layout);
    const sizeOf = (i) => fs.statSync(ctx.src[i]).size;
    const garbage = (n) => crypto.randomBytes(n).toString('hex');
    const cases = [];
    const add = (id, mutations) => cases.push({ id, mutations, modes: ['ro', 'rw'] });
    // the region file (.data, or the single file)
    add('region empty', [{ file: 0, op: 'truncate', at: 0 }]);
    add('region 1 byte', [{ file: 0, op: 'truncate', at: 1 }]);
    add('region cut inside the superblock', [{ file: 0, op: 'truncate', at: 4095 }]);
    add('region = superblock only', [{ file: 0, op: 'truncate', at: 4096 }]);
    const lastExtentEnd = Math.max(...ctx.expected[4].entries.map((e) => e.offset + e.length));
    add('region cut inside the last extent', [{ file: 0, op: 'truncate', at: lastExtentEnd - 1 }]);
    add('region garbage superblock', [{ file: 0, op: 'write', at: 0, hex: garbage(4096) }]);
    add('region zeroed superblock', [{ file: 0, op: 'write', at: 0, hex: Buffer.alloc(4096).toString('hex') }]);
    if (layout === 'pair') {
      add('map empty', [{ file: 1, op: 'truncate', at: 0 }]);
      for (const at of [1, 8, 32, 63]) add(`map cut inside its header @${at}`, [{ file: 1, op: 'truncate', at }]);
      add('map garbage', [{ file: 1, op: 'write', at: 0, hex: garbage(sizeOf(1)) }]);
      add('map zeros', [{ file: 1, op: 'write', at: 0, hex: Buffer.alloc(sizeOf(1)).toString('hex') }]);
      add('map and data garbage', [
        { file: 0, op: 'write', at: 0, hex: garbage(8192) },
        { file: 1, op: 'write', at: 0, hex: garbage(sizeOf(1)) },
      ]);
    } else {
      add('single cut inside the log', [{ file: 0, op: 'truncate', at: ctx.log.start + 100 }]);
      add('single zeroed log header', [{ file: 0, op: 'write', at: ctx.log.start, hex: Buffer.alloc(64).toString('hex') }]);
    }
    checkAll(t, run(t, ctx, cases), (res) => {
      for (const mode of ['ro', 'rw']) {
        const r = res[mode];
        // docs/FORMAT.md (Creation): an empty .map / empty single file is a creation that never finished, i.e. no
        // pool: a writable open without a size says ESHELF_NOT_FOUND (what a size does is the next test's business)
        if ((res.id === 'region empty' && layout === 'single') || res.id === 'map empty') {
          if (mode === 'rw' && r && r.error === 'ESHELF_NOT_FOUND') continue;
        }
        if (!r || r.error !== 'ESHELF_CORRUPT') return `${mode}: expected ESHELF_CORRUPT, got ${show(r)}`;
        if (!r.message.includes('p')) return `${mode}: message does not name the pool: ${r.message}`;
      }
      return null;
    });
  });

  test(`${layout}: a checksummed batch that breaks the format's rules is ESHELF_CORRUPT (crafted)`, (t) => {
    const ctx = build(t, layout);
    const last = ctx.log.batches[3];
    const seq = last.seq + 1;
    const epoch = ctx.log.epoch;
    const entries = ctx.expected[4].entries;
    const a = entries.find((e) => e.name === 'a-first-entry');
    const dataStart = Number(fs.readFileSync(ctx.src[0]).readBigUInt64LE(40)); // superblock data_start: no extent below
    const craft = (ops, extra) => encodeBatch(ops, seq, epoch, last.crc, extra).toString('hex');
    const put = (name, offset, length, meta) => ({ type: OP_PUT, name, offset, length, meta: meta && Buffer.from(meta) });
    const op =
      layout === 'pair' ? (hex) => [{ file: 1, op: 'append', hex }] : (hex) => [{ file: 0, op: 'write', at: last.end, hex }];
    const bad = {
      'extent past the region end': [put('zz', ctx.size, 4096)],
      'extent straddling the region end': [put('zz', ctx.size - 4096, 8192)],
      'extent offset+length overflows u64': [put('zz', 2n ** 64n - 4096n, 8192)],
      'extent with offset 2^63': [put('zz', 2n ** 63n, 64)],
      'extent over the superblock': [put('zz', 0, 64)],
      'extent below the data start': [put('zz', dataStart - 4096, 64)],
      'extent overlapping a live entry': [put('zz', a.offset, 64)],
      'two new extents overlapping each other': [put('zz1', ctx.size - 8192, 4096), put('zz2', ctx.size - 8192 + 64, 64)],
      'name that is not UTF-8': [put(Buffer.from([0x7a, 0xff, 0x7a]), 0, 0, 'x')],
      'name with a surrogate': [put(Buffer.from([0xed, 0xa0, 0x80]), 0, 0, 'x')],
      'unknown op type': [{ type: 7, name: 'zz', offset: 0, length: 0 }],
      'unknown op flags': [{ type: OP_PUT, name: 'zz', flags: 2 }],
      'seq flag without room for the seq': [{ type: OP_PUT, name: 'zz', flags: 1 }],
      'seq flag on an erase': [{ type: OP_ERASE, name: 'c-meta-only', seq: 1 }],
      'op seq 0': [{ type: OP_PUT, name: 'zz', seq: 0 }],
      'op seq later than its batch': [{ type: OP_PUT, name: 'zz', seq: seq + 1 }],
      'erase of a missing entry': [{ type: OP_ERASE, name: 'never-existed' }],
      'erase of an entry erased earlier in the log': [{ type: OP_ERASE, name: 'b-second-entry' }],
      'erase with an extent': [{ type: OP_ERASE, name: 'c-meta-only', offset: a.offset, length: 64 }],
      'meta length past the batch': [{ type: OP_PUT, name: 'zz', metaLen: 4096 }],
    };
    const cases = Object.entries(bad).map(([id, ops]) => ({ id, mutations: op(craft(ops)), modes: ['ro', 'rw'] }));
    cases.push({ id: 'zero ops over a non-empty payload', mutations: op(craft([put('zz', 0, 0, 'x')], { nops: 0 })), modes: ['ro', 'rw'] });
    cases.push({ id: 'more ops claimed than present', mutations: op(craft([put('zz', 0, 0, 'x')], { nops: 2 })), modes: ['ro', 'rw'] });
    // the control: a well-formed crafted batch is applied, so the cases above are judged on content alone
    cases.push({ id: 'control', mutations: op(craft([put('zz-crafted', 0, 0, 'crafted')])), modes: ['ro', 'rw'] });
    cases.push({ id: 'control-seq', mutations: op(craft([{ ...put('zz-crafted', 0, 0, 'crafted'), seq: 2 }])), modes: ['ro'] });
    const results = run(t, ctx, cases);
    const control = results.get('control');
    t.truthy(control && control.ro && control.ro.state, `control: ${show(control && control.ro)}`);
    if (control && control.ro && control.ro.state) {
      t.is(control.ro.state.seq, seq);
      t.truthy(control.ro.state.entries.find((e) => e.name === 'zz-crafted' && e.meta === Buffer.from('crafted').toString('hex')));
    }
    const controlSeq = results.get('control-seq');
    const withSeq = controlSeq && controlSeq.ro && controlSeq.ro.state && controlSeq.ro.state.entries.find((e) => e.name === 'zz-crafted');
    t.truthy(withSeq, `control-seq: ${show(controlSeq && controlSeq.ro)}`);
    if (withSeq) t.is(withSeq.seq, 2, 'a put carrying its original seq reports it');
    results.delete('control');
    results.delete('control-seq');
    checkAll(t, results, (res) => {
      for (const mode of ['ro', 'rw']) {
        const r = res[mode];
        if (!r || r.error !== 'ESHELF_CORRUPT') return `${mode}: expected ESHELF_CORRUPT, got ${show(r)}`;
      }
      if (layout === 'pair' && res.sizes[1] !== fs.statSync(ctx.src[1]).size + Buffer.from(cases.find((c) => c.id === res.id).mutations[0].hex, 'hex').length) {
        return 'a corrupt pool was modified by a writable open';
      }
      return null;
    });
  });
}

test('pair: a .map from another pool is ESHELF_CORRUPT (uuid mismatch)', (t) => {
  const ctx = build(t, 'pair');
  const other = path.join(ctx.dir, 'other');
  const pool = Pool.open(other, { size: 256 * 1024 });
  for (const b of BATCHES) pool.commit(b(pool));
  pool.close();
  const hex = fs.readFileSync(`${other}.map`).toString('hex');
  const results = run(t, ctx, [
    { id: 'foreign map', mutations: [{ file: 1, op: 'truncate', at: 0 }, { file: 1, op: 'write', at: 0, hex }], modes: ['ro', 'rw'] },
  ]);
  checkAll(t, results, (res) => {
    for (const mode of ['ro', 'rw']) if (!res[mode] || res[mode].error !== 'ESHELF_CORRUPT') return `${mode}: ${show(res[mode])}`;
    return null;
  });
});

test('pair: a torn tail is left alone by a readOnly open and cut by the next writable open', (t) => {
  const ctx = build(t, 'pair');
  const last = ctx.log.batches[3];
  const at = last.start + Math.floor((last.end - last.start) / 2);
  const results = run(t, ctx, [{ id: 'half', mutations: [{ file: 1, op: 'truncate', at }], modes: ['ro'] }]);
  t.deepEqual(results.get('half').ro.state, ctx.expected[3]);
  t.is(fs.statSync(ctx.dst[1]).size, at, 'the readOnly open did not modify the .map');
  t.deepEqual(fs.readFileSync(ctx.dst[0]), fs.readFileSync(ctx.src[0]), 'nor the .data');
  const pool = Pool.open(ctx.pool);
  t.deepEqual(dump(pool), ctx.expected[3]);
  t.is(fs.statSync(ctx.dst[1]).size, last.start, 'the writable open truncated the torn tail');
  pool.close();
});

test('pair: a log cut at any batch boundary opens to that state with a consistent allocator', (t) => {
  const ctx = build(t, 'pair');
  for (let k = 0; k < 4; k++) {
    ctx.src.forEach((s, i) => fs.copyFileSync(s, ctx.dst[i]));
    fs.truncateSync(ctx.dst[1], ctx.log.batches[k].start);
    const pool = Pool.open(ctx.pool);
    // only the cut before the LAST batch is a state a crash can produce: there, the data must be intact too.
    // Cutting earlier drops durable batches whose freed extents were legitimately reused by later ones.
    if (k === 3) t.deepEqual(dump(pool), ctx.expected[k], `cut before batch ${k + 1}`);
    else t.deepEqual(names(dump(pool)), names(ctx.expected[k]), `cut before batch ${k + 1}`);
    // the space of entries that were never committed is free again
    t.is(pool.stats().reserved, 0);
    t.is(pool.stats().entries, ctx.expected[k].entries.length);
    pool.close();
  }
});

test('pair: open-or-create with a size does not wipe a pool whose .map was emptied after creation', (t) => {
  const ctx = build(t, 'pair');
  ctx.src.forEach((s, i) => fs.copyFileSync(s, ctx.dst[i]));
  fs.truncateSync(ctx.dst[1], 0);
  const data = fs.readFileSync(ctx.dst[0]);
  // The .data holds a valid superblock and extents, so this is not a creation that never finished: the index
  // was lost. `Pool.open(p, {size})` ("open, or create if missing", what core does) must not re-create the
  // region and throw every extent away; it should refuse (ESHELF_CORRUPT) so that the index can be restored.
  const err = t.throws(() => Pool.open(ctx.pool, { size: 256 * 1024 }), { instanceOf: ShelfError });
  if (err) t.is(err.code, 'ESHELF_CORRUPT', err.message);
  t.deepEqual(fs.readFileSync(ctx.dst[0]), data, 'the region was not re-created');
  const ro = t.throws(() => Pool.open(ctx.pool, { readOnly: true }), { instanceOf: ShelfError });
  if (ro) t.is(ro.code, 'ESHELF_CORRUPT', ro.message);
});
