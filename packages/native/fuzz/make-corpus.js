'use strict';
// make-corpus.js [OUTDIR] -- seed inputs for fuzz_replay, cut from real pools made by the engine itself.
//
// Builds a pair pool and a single-layout pool (puts, replaces, erases, meta-only entries, non-ASCII names, a
// compaction, more batches after it) and writes one seed per fuzz mode (see fuzz_replay.cpp for the input format):
//   0 superblock, 1 log header, 2 raw log, 3 log (checksums repaired by the harness), 4 superblock + size + log,
//   5 split point + log (at every batch boundary).
// Default OUTDIR: packages/native/fuzz/corpus (the committed seeds).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pool } = require('@tsmm/native');

const KiB = 1024;

function fill(pool, off, len, seed) {
  const u8 = new Uint8Array(pool.view(off, len));
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    u8[i] = x & 0xff;
  }
}

function script(pool) {
  const put = (name, len, meta) => {
    const offset = len ? pool.alloc(len) : 0;
    if (len) fill(pool, offset, len, name.length * 7919 + len);
    return { type: 'put', name, offset, length: len, meta: Buffer.from(meta) };
  };
  pool.commit([put('a', 1000, 'meta-a'), put('b', 5000, ''), put('c', 0, 'scalar:42')]);
  pool.commit([put('d/e/f', 300, 'x'), put('a', 2000, 'meta-a2')]);
  pool.commit([{ type: 'erase', name: 'b' }, put('ünïcødé-名前-😀', 100, '{"dtype":"float32","shape":[5,5]}')]);
  pool.compact();
  pool.commit([put('g', 64, ''), { type: 'erase', name: 'd/e/f' }, put('h'.repeat(255), 4096, 'long name')]);
  pool.commit([put('c', 0, 'scalar:43')]);
}

/** The log of a pool: [whole region head, log bytes, batch boundaries]. */
function logOf(p, layout) {
  if (layout === 'pair') {
    const data = fs.readFileSync(`${p}.data`).subarray(0, 4096);
    return { superblock: data, log: fs.readFileSync(`${p}.map`) };
  }
  const file = fs.readFileSync(p);
  const logOffset = Number(file.readBigUInt64LE(48));
  const half = Number(file.readBigUInt64LE(56));
  const active = Number(file.readBigUInt64LE(128));
  const start = logOffset + active * half;
  // the used part of the active half: walk batch headers (magic + payload length) until they stop
  let pos = start + 64;
  while (pos + 40 <= start + half && file.toString('latin1', pos, pos + 4) === 'TSMB') pos += 40 + file.readUInt32LE(pos + 4);
  return { superblock: file.subarray(0, 4096), log: file.subarray(start, Math.min(start + half, pos + 48)) };
}

function boundaries(log) {
  const out = [64];
  let pos = 64;
  while (pos + 40 <= log.length && log.toString('latin1', pos, pos + 4) === 'TSMB') {
    pos += 40 + log.readUInt32LE(pos + 4);
    out.push(pos);
  }
  return out;
}

function main() {
  const outDir = path.resolve(process.argv[2] || path.join(__dirname, 'corpus'));
  fs.mkdirSync(outDir, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  let n = 0;
  const write = (name, ...parts) => {
    fs.writeFileSync(path.join(outDir, `seed-${name}`), Buffer.concat(parts.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x)))));
    n++;
  };
  try {
    for (const layout of ['pair', 'single']) {
      const p = path.join(dir, layout);
      const pool = Pool.open(p, layout === 'single' ? { layout, size: 1024 * KiB, logSize: 16 * KiB } : { size: 1024 * KiB });
      const empty = logOf(p, layout);
      script(pool);
      const size = pool.stats().size;
      pool.close();
      const { superblock, log } = logOf(p, layout);
      const sizeLE = Buffer.alloc(8);
      sizeLE.writeBigUInt64LE(BigInt(size));
      write(`0-super-${layout}`, [0], superblock);
      write(`1-header-${layout}`, [1], log.subarray(0, 64));
      write(`2-raw-${layout}`, [2], log);
      write(`2-raw-empty-${layout}`, [2], empty.log.subarray(0, 64));
      write(`3-log-${layout}`, [3], log);
      write(`4-open-${layout}`, [4], superblock, sizeLE, log);
      for (const b of boundaries(log)) {
        const split = Buffer.alloc(2);
        split.writeUInt16LE(Math.min(b, 0xffff));
        write(`5-refresh-${layout}-${b}`, [5], split, log);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`wrote ${n} seeds to ${outDir}\n`);
}

main();
