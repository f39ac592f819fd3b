// bench/lib/bounds.js -- physical bounds for making N bytes durable on a medium, measured in the same run.
//
// bench/tools/bounds.c is compiled with `cc -O2` into bench/.cache/bounds-<hash of source> on first use. Without a C
// compiler, the fallback is `dd ... conv=fdatasync` (write+fdatasync only). See bench/tools/bounds.c for what each
// method does; times are milliseconds.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { summarize, since } = require('./stats');

const CACHE = path.join(__dirname, '..', '.cache');
const SRC = path.join(__dirname, '..', 'tools', 'bounds.c');

/** Path of the compiled helper, compiling it when needed; null when no C compiler works. */
function helper() {
  const src = fs.readFileSync(SRC);
  const hash = crypto.createHash('sha256').update(src).digest('hex').slice(0, 12);
  const bin = path.join(CACHE, `bounds-${hash}`);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(CACHE, { recursive: true });
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean)) {
    try {
      execFileSync(cc, ['-O2', '-o', bin, SRC], { stdio: ['ignore', 'ignore', 'pipe'] });
      return bin;
    } catch {
      // try the next compiler
    }
  }
  return null;
}

/** write+fdatasync of `bytes` with dd, when no compiler exists. */
function ddFallback(dir, bytes, runs) {
  const f = path.join(dir, `bounds-dd.${process.pid}`);
  const mib = Math.ceil(bytes / 2 ** 20);
  const times = [];
  try {
    for (let r = -1; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      execFileSync('dd', ['if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, 'conv=fdatasync,notrunc'], { stdio: 'ignore' });
      if (r >= 0) times.push(since(t0));
    }
  } finally {
    fs.rmSync(f, { force: true });
  }
  return { bytes, dir, method: 'dd', writeSync: summarize(times) };
}

/**
 * Measure the bounds for `bytes` on the filesystem of `dir`: { memcpy, mapCopy, msync, writeSync, directSync?,
 * mapCopyMsync (mapCopy + msync of the same run), durable: {method, median} (fastest of msync and writeSync) }.
 */
function measureBounds(dir, bytes, runs = 5, warmup = 1) {
  const bin = helper();
  if (bin === null) {
    const r = ddFallback(dir, bytes, runs);
    r.durable = { method: 'writeSync', median: r.writeSync.median };
    return r;
  }
  const out = execFileSync(bin, [dir, String(bytes), String(runs), String(warmup)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const raw = JSON.parse(out);
  if (raw.error) throw new Error(`bounds helper: ${raw.error}`);
  const res = { bytes: raw.bytes, dir: raw.dir, method: 'bounds.c' };
  for (const k of ['memcpy', 'mapCopy', 'msync', 'writeSync', 'directSync']) if (raw[k]) res[k] = summarize(raw[k]);
  res.mapCopyMsync = summarize(raw.mapCopy.map((t, i) => t + raw.msync[i]));
  // the bound: the fastest of the listed ways to make the same bytes durable (msync of bytes already dirty in
  // a mapping, or write+fdatasync). O_DIRECT is reported but not part of the bound.
  const cands = [['msync', res.msync.median], ['writeSync', res.writeSync.median]];
  cands.sort((a, b) => a[1] - b[1]);
  res.durable = { method: cands[0][0], median: cands[0][1] };
  res.memcpyGiBs = bytes / 2 ** 30 / (res.memcpy.median / 1000);
  return res;
}

/**
 * The safetensors-style baseline: `fs.promises.writeFile` of one buffer of `bytes`, then fsync, over the same file each
 * run. Returns a summary in ms.
 */
async function safetensorsBaseline(dir, bytes, runs = 5, warmup = 1) {
  const f = path.join(dir, `st-baseline.${process.pid}.safetensors`);
  const buf = Buffer.alloc(bytes, 0x3c);
  const times = [];
  try {
    for (let r = -warmup; r < runs; r++) {
      buf[0] = r & 0xff;
      const t0 = process.hrtime.bigint();
      await fs.promises.writeFile(f, buf);
      const fh = await fs.promises.open(f, 'r+');
      await fh.sync();
      await fh.close();
      if (r >= 0) times.push(since(t0));
    }
  } finally {
    fs.rmSync(f, { force: true });
  }
  return summarize(times);
}

module.exports = { measureBounds, safetensorsBaseline, helper };
