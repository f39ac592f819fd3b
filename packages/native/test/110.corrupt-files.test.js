'use strict';
// Corrupt files: tens of thousands of damaged variants of real pool files, opened in bulk by one child process.
//
// Source pools (pair and single layout) get several batches of puts, replaces, erases and meta-only entries, and a
// compaction; the committed state after every step is recorded as (seq, entries with meta and a hash of their bytes).
// Each variant damages the .map and/or the region head (superblock; single layout: both log halves): single bit
// flips at every bit, truncation at every length, zeroed tails, extensions with zeros/garbage/replayed batches/holes,
// region files cut or extended at every length class, random bytes, multi-byte damage, and splices of another pool's
// bytes. The data extents are never touched, so every entry of a successful open must hash exactly as committed.
//
// Contract checked for every variant (issue 7, "Corrupt files"): the open either succeeds with a state equal to one
// of the recorded committed states (same seq, same entries, same bytes) -- and a writable open (recovery) and the
// re-open after it agree with it -- or fails with ShelfError ESHELF_CORRUPT (ESHELF_NOT_FOUND for an empty index,
// which FORMAT.md defines as an unfinished creation). A crash is detected as the child dying (by signal) and is
// reported with the variant that caused it; the run then resumes after it so that every crashing variant is listed.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Pool, tempDir, pattern, writeAt, FIXTURES, childReport } = require('./helpers');
const { parseLog, singleLogStart } = require('./helpers/log');
const { canon } = require('./fixtures/110.corrupt-child');

const KiB = 1024;
const POOL_SIZE = 256 * KiB;
const LOG_HALF = 8 * KiB; // single layout: small halves keep the head (superblock + both halves) at 20 KiB

// deterministic variants, so a failure names a reproducible variant
const { rng } = require('./helpers/rng');

const MAIN_SCRIPT = [
  [['put', 'a', 1000, 'm-a1'], ['put', 'b', 5000, 'm-b1'], ['put', 'c', 0, 'm-c1']],
  [['put', 'd', 300, ''], ['put', 'a', 2000, 'm-a2']],
  [['erase', 'b'], ['put', 'e-ü-longer-name', 100, 'm-e3']],
  [['put', 'c', 0, 'm-c4-meta-only'], ['put', 'f', 8192, 'm-f4']],
  'compact',
  [['put', 'g', 64, 'm-g6'], ['erase', 'd']],
  [['put', 'e-ü-longer-name', 4096, 'm-e7'], ['put', 'h', 10, '']],
  [['erase', 'a']],
];
// ends with a compaction and nothing after it
const COMPACTED_SCRIPT = [
  [['put', 'x', 500, 'm-x1'], ['put', 'y', 7000, 'm-y1']],
  [['put', 'z', 0, 'm-z2']],
  [['erase', 'x'], ['put', 'w', 100, 'm-w3']],
  'compact',
];
const DONOR_SCRIPT = [
  [['put', 'q', 777, 'donor'], ['put', 'r', 3000, 'donor']],
  [['put', 's', 0, 'donor-meta']],
  [['erase', 'q']],
];

/** Build one source pool by `script` in DIR/src; returns its job entry (files, allowed states, head length). */
function buildPool(dir, key, layout, script) {
  const p = path.join(dir, 'src', key);
  const opts = layout === 'single' ? { layout, size: POOL_SIZE, logSize: LOG_HALF } : { size: POOL_SIZE };
  const pool = Pool.open(p, opts);
  const allowed = [canon(pool)];
  for (const step of script) {
    if (step === 'compact') pool.compact();
    else {
      pool.commit(
        step.map(([type, name, len, meta]) => {
          if (type === 'erase') return { type, name };
          const offset = len ? pool.alloc(len) : 0;
          if (len) writeAt(pool, offset, pattern(`${key}:${name}:${allowed.length}`, len));
          return { type, name, offset, length: len, meta: Buffer.from(meta) };
        }),
      );
    }
    allowed.push(canon(pool));
  }
  const headLen = pool.stats().dataStart;
  pool.close();
  const files = layout === 'pair' ? { map: `${p}.map`, data: `${p}.data` } : { data: p };
  return {
    layout,
    files,
    work: path.join(dir, 'work', key),
    headLen,
    allowed,
    final: allowed[allowed.length - 1],
  };
}

/** Where the damageable bytes of a pool lie: { f, start, end } of its active log (pair: the whole .map). */
function logSpan(job) {
  if (job.layout === 'pair') {
    const map = fs.readFileSync(job.files.map);
    return { f: 'map', start: 0, end: map.length, buf: map, batches: parseLog(map, 0).batches };
  }
  const head = fs.readFileSync(job.files.data).subarray(0, job.headLen);
  const { start, logHalf, active } = singleLogStart(head);
  const log = parseLog(head, start);
  return { f: 'head', start, end: log.end, buf: head, batches: log.batches, logHalf, active };
}

/** The variants of pool `key` (donor: a pool of the same layout to splice from). */
function variantsFor(key, job, donorKey, donorJob, seed) {
  const rand = rng(seed);
  const ri = (n) => Math.floor(rand() * n);
  const V = [];
  const add = (tag, m, rw = false) => V.push({ p: key, tag, m, rw });
  const span = logSpan(job);
  const { f } = span;
  const pair = job.layout === 'pair';
  const dataSize = fs.statSync(job.files.data).size;

  // 1. every bit of the log (pair: the .map; single: the active half up to its end)
  for (let at = span.start; at < span.end; at++) {
    for (let bit = 0; bit < 8; bit++) add('flip-log', [{ t: 'xor', f, at, mask: 1 << bit }], (at + bit) % 8 === 0);
  }
  // 2. every bit of the superblock's meaningful bytes (incl. the active-half word at 128), a sample of the reserved rest
  if (!['PC', 'SC'].includes(key)) {
    for (let at = 0; at < 136; at++) {
      for (let bit = 0; bit < 8; bit++) add('flip-super', [{ t: 'xor', f: 'head', at, mask: 1 << bit }], bit === 0);
    }
    for (let at = 136; at < 4096; at += 61) add('flip-super-reserved', [{ t: 'xor', f: 'head', at, mask: 1 << (at % 8) }]);
  }
  // 3. the log cut at every length (pair: truncate the .map; single: zero from there to the end of the log)
  for (let len = 0; len < span.end - span.start; len++) {
    if (pair) add('truncate-log', [{ t: 'trunc', f: 'map', len }], len % 4 === 0);
    else add('truncate-log', [{ t: 'zero', f: 'head', from: span.start + len, to: span.end }], len % 4 === 0);
  }
  // 4. extensions after the last batch: zeros, 0xff, garbage, batch magic + garbage, replayed old batches
  const first = span.buf.subarray(span.batches[0].start, span.batches[0].end);
  const last = span.buf.subarray(span.batches.at(-1).start, span.batches.at(-1).end);
  const fillers = {
    zeros: (n) => Buffer.alloc(n),
    ones: (n) => Buffer.alloc(n, 0xff),
    garbage: (n) => Buffer.from(Array.from({ length: n }, () => ri(256))),
    magic: (n) => Buffer.concat([Buffer.from('TSMB'), Buffer.from(Array.from({ length: Math.max(0, n - 4) }, () => ri(256)))]).subarray(0, n),
    'replay-first': (n) => Buffer.concat(Array.from({ length: Math.ceil(n / first.length) }, () => first)).subarray(0, n),
    'replay-last': (n) => Buffer.concat(Array.from({ length: Math.ceil(n / last.length) }, () => last)).subarray(0, n),
  };
  const room = pair ? 8192 : span.logHalf - (span.end - span.start);
  for (const [name, fill] of Object.entries(fillers)) {
    for (const n of [1, 4, 7, 8, 39, 40, 41, 64, 100, 511, 4096, first.length, last.length, 2 * last.length]) {
      if (n > room) continue;
      const hex = fill(n).toString('hex');
      if (pair) add(`extend-${name}`, [{ t: 'append', f: 'map', hex }], true);
      else add(`extend-${name}`, [{ t: 'set', f: 'head', at: span.end, hex }], true);
    }
  }
  if (pair) add('extend-hole', [{ t: 'sparse', f: 'map', len: 16 << 20 }], true);
  // 5. the region file cut or extended at every length class
  const extentEnds = [];
  for (const line of job.final.split('\n').slice(1)) {
    const [, off, len] = line.split('|').map(Number);
    if (len) extentEnds.push(off, off + len, off + len - 1);
  }
  const sizes = [0, 1, 63, 64, 4095, 4096, 4097, 8191, 8192, job.headLen - 1, job.headLen, job.headLen + 4095, job.headLen + 4096,
    ...extentEnds, dataSize - 4097, dataSize - 4096, dataSize - 1, dataSize + 1, dataSize + 4095, dataSize + 4096, dataSize + 65536 + 3];
  for (const len of [...new Set(sizes)].filter((n) => n >= 0)) {
    add('region-size', [{ t: 'dsize', len, fill: 'zero' }], true);
    if (len > dataSize) add('region-size', [{ t: 'dsize', len, fill: 'rand' }], true);
  }
  // 6. random bytes, several at once, zeroed ranges (within the log and the superblock)
  const anyPos = () => (rand() < 0.8 ? [f, span.start + ri(span.end - span.start)] : ['head', ri(136)]);
  for (let i = 0; i < 400; i++) {
    const [ff, at] = anyPos();
    const v = [0, 0xff, ri(256)][ri(3)];
    add('byte', [{ t: 'set', f: ff, at, hex: v.toString(16).padStart(2, '0') }], i % 8 === 0);
  }
  for (let i = 0; i < 300; i++) {
    const m = [];
    for (let k = 2 + ri(7); k > 0; k--) {
      const [ff, at] = anyPos();
      m.push({ t: 'xor', f: ff, at, mask: 1 + ri(255) });
    }
    add('multi', m, i % 8 === 0);
  }
  for (let i = 0; i < 200; i++) {
    const from = span.start + ri(span.end - span.start);
    add('zero-range', [{ t: 'zero', f, from, to: Math.min(span.end, from + 1 + ri(200)) }], i % 8 === 0);
  }
  // 7. splices of another pool's bytes (a different uuid, epochs and chain)
  const donor = logSpan(donorJob);
  add('splice-super', [{ t: 'copy', f: 'head', donor: donorKey, df: 'head', src: 0, dst: 0, n: 4096 }], true);
  if (pair) {
    add('splice-map', [{ t: 'trunc', f: 'map', len: 0 }, { t: 'append', f: 'map', hex: donor.buf.toString('hex') }], true);
  } else {
    add('splice-log', [{ t: 'copy', f: 'head', donor: donorKey, df: 'head', src: donor.start, dst: span.start, n: donor.end - donor.start }], true);
    // our own inactive half, as it would look after a bad switch, and every value class of the active word
    add('other-half', [{ t: 'set', f: 'head', at: 128, hex: Buffer.from([1 - span.active, 0, 0, 0, 0, 0, 0, 0]).toString('hex') }], true);
    for (const w of [2, 3, 255, 0x100, 2 ** 31, 2 ** 52]) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(w));
      add('active-word', [{ t: 'set', f: 'head', at: 128, hex: b.toString('hex') }], true);
    }
    add('halves-swapped', [
      { t: 'copy', f: 'head', df: 'head', src: 4096 + span.logHalf * span.active, dst: 4096 + span.logHalf * (1 - span.active), n: span.logHalf },
      { t: 'zero', f: 'head', from: 4096 + span.logHalf * span.active, to: 4096 + span.logHalf * (span.active + 1) },
    ], true);
  }
  const common = Math.min(span.end - span.start, donor.end - donor.start);
  for (let i = 0; i < 250; i++) {
    const off = ri(common);
    const n = 1 + ri(Math.min(256, common - off));
    add('splice-range', [{ t: 'copy', f, donor: donorKey, df: donor.f, src: donor.start + off, dst: span.start + off, n }], i % 8 === 0);
  }
  for (let i = 0; i < 100; i++) {
    // a range of our own log copied elsewhere in it (duplicated or shifted batches)
    const len = span.end - span.start;
    const src = ri(len);
    const dst = ri(len);
    const n = 1 + ri(Math.min(len - src, len - dst, 512));
    add('self-splice', [{ t: 'copy', f, df: f, src: span.start + src, dst: span.start + dst, n }], i % 8 === 0);
  }
  return V;
}

/** Run the variants in child processes; resume after each crash. Returns { done, failures, crashes }. */
function runChild(dir, job) {
  const jobPath = path.join(dir, 'job.json');
  fs.writeFileSync(jobPath, JSON.stringify(job));
  const failures = [];
  const crashes = [];
  let done = null;
  let first = 0;
  const totals = { variants: 0 };
  while (first < job.variants.length && crashes.length < 8) {
    const r = spawnSync(process.execPath, [path.join(FIXTURES, '110.corrupt-child.js'), jobPath, String(first)], {
      encoding: 'utf8',
      timeout: 300000,
      maxBuffer: 256 * 1024 * 1024,
    });
    let lastStarted = -1;
    for (const line of String(r.stdout).split('\n')) {
      if (line.startsWith('S ')) lastStarted = Number(line.slice(2));
      else if (line.startsWith('F ')) failures.push(JSON.parse(line.slice(2)));
      else if (line.startsWith('D ')) done = JSON.parse(line.slice(2));
    }
    if (r.status === 0 && done) {
      totals.variants += done.counts.variants;
      break;
    }
    crashes.push({ variant: lastStarted, desc: job.variants[lastStarted], report: childReport(r) });
    first = lastStarted + 1;
    done = null;
  }
  return { done, failures, crashes };
}

test('thousands of damaged pool files: each opens to a committed state or fails with ESHELF_CORRUPT, never crashes', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'src'));
  fs.mkdirSync(path.join(dir, 'work'));
  const pools = {
    P: buildPool(dir, 'P', 'pair', MAIN_SCRIPT),
    S: buildPool(dir, 'S', 'single', MAIN_SCRIPT),
    PC: buildPool(dir, 'PC', 'pair', COMPACTED_SCRIPT),
    SC: buildPool(dir, 'SC', 'single', COMPACTED_SCRIPT),
    PD: buildPool(dir, 'PD', 'pair', DONOR_SCRIPT),
    SD: buildPool(dir, 'SD', 'single', DONOR_SCRIPT),
  };
  const variants = [
    ...variantsFor('P', pools.P, 'PD', pools.PD, 1),
    ...variantsFor('S', pools.S, 'SD', pools.SD, 2),
    ...variantsFor('PC', pools.PC, 'PD', pools.PD, 3),
    ...variantsFor('SC', pools.SC, 'SD', pools.SD, 4),
  ];
  t.true(variants.length >= 10000, `${variants.length} variants`);
  const { done, failures, crashes } = runChild(dir, { pools, variants });

  t.deepEqual(
    crashes.map((c) => ({ variant: c.variant, desc: c.desc })),
    [],
    `the engine crashed (child died) on these variants:\n${crashes.map((c) => c.report).join('\n')}`,
  );
  t.deepEqual(failures.slice(0, 10), [], `${failures.length} variants broke the contract`);
  t.truthy(done, 'the child finished');
  if (!done) return;
  t.is(done.counts.variants + crashes.length, variants.length, 'every variant ran');
  t.true(done.counts.opened > 0 && done.counts.corrupt > 0, 'both outcomes occur');
  // bounded memory: the largest input is a 16 MiB sparse index; nothing may balloon past a few times that
  t.true(done.maxRssKiB < 512 * 1024, `max RSS ${done.maxRssKiB} KiB`);
  t.log(`${done.counts.variants} variants: ${done.counts.opened} opened to a committed state (${done.counts.rollback} of them an earlier one), ` +
    `${done.counts.corrupt} ESHELF_CORRUPT, ${done.counts.notFound} ESHELF_NOT_FOUND (empty index), ${done.counts.rwChecked} also recovered writable; ` +
    `slowest ${done.slowest.ms.toFixed(1)} ms (${done.slowest.tag}); max RSS ${(done.maxRssKiB / 1024).toFixed(0)} MiB`);
  t.log(Object.entries(done.byTag).map(([k, v]) => `${k}: ${v.n} (${v.opened} opened, ${v.rollback} earlier, ${v.corrupt} corrupt)`).join('; '));
});

// Regression test of engine issue R5 (fixed in 12380cb): a compaction writes its one batch in full and makes it durable
// before switching to the new log, so that batch can never be a torn append; a flipped bit in it is damage
// (ESHELF_CORRUPT), not an empty pool (a writable open would then have truncated the index, losing every name).
test('one flipped bit in the only batch of a compacted index is ESHELF_CORRUPT, not an empty pool', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'src'));
  fs.mkdirSync(path.join(dir, 'work'));
  for (const layout of ['pair', 'single']) {
    const job = buildPool(dir, `C-${layout}`, layout, COMPACTED_SCRIPT);
    const span = logSpan(job);
    const b = span.batches[0];
    const buf = Buffer.from(layout === 'pair' ? fs.readFileSync(job.files.map) : fs.readFileSync(job.files.data));
    buf[b.start + Math.floor((b.end - b.start) / 2)] ^= 0x10;
    fs.writeFileSync(layout === 'pair' ? job.files.map : job.files.data, buf);
    const p = path.join(dir, 'src', `C-${layout}`);
    const err = t.throws(() => Pool.open(p, { layout, readOnly: true }).close());
    t.is(err && err.code, 'ESHELF_CORRUPT', `${layout}: ${err ? err.message : 'opened'}`);
  }
});
