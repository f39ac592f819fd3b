'use strict';
// An array larger than RAM (PyMM's 465 GB example, scaled to taste). Default: 256 MiB; --size 8g (or 500g, with that
// much disk or persistent memory) to go big. Beyond 4 GiB the array is chunked: still a scijs ndarray, whose .data has
// get/set across 4 GiB windows, and whose windows (chunks()) are plain typed arrays for full-speed bulk work.
//   node examples/large-array/index.js [--size 256m|8g|...] [--load FILE] [--dir DIR] [--keep]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const cliProgress = require('cli-progress');
const { shelf, ndarray } = require('@tsmm/core');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

function bytesOf(s) {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)i?b?$/i.exec(String(s).trim());
  if (!m) throw new Error(`--size expects a size like 256m or 8g, got ${s}`);
  return Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
}

const fmt = (n) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(0)} MiB` : `${n} bytes`);

function bar(label, total) {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const b = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {eta_formatted} left`, hideCursor: true }, cliProgress.Presets.shades_classic);
  b.start(total, 0);
  return b;
}

const load = arg('--load');
const size = load ? fs.statSync(load).size : bytesOf(arg('--size', '256m'));
const dir = arg('--dir', process.env.TSMM_PMEM_PATH || path.join(os.tmpdir(), 'tsmm-large-array'));
fs.mkdirSync(dir, { recursive: true });
const BLOCK = 2 ** 20;

console.log(`shelf 'big' in ${dir}: ${fmt(size)} array (this machine has ${fmt(os.totalmem())} of RAM)`);
let s = shelf('big', { sizeMb: Math.ceil(size / 2 ** 20) + 16, pmemPath: dir, forceNew: true });
let t0 = Date.now();
s.x = ndarray([size], 'uint8');
const chunks = s.x.chunks();
console.log(`s.x = ndarray([${size}], 'uint8'): ${chunks.length} window${chunks.length > 1 ? 's' : ''} of at most 4 GiB, ` +
  `${s.x.data.constructor.name} .data, ${s.used}% of the shelf used (${Date.now() - t0} ms, nothing copied)`);

// Fill it window by window: from a file (read straight into shelf memory), or with a pattern (block k = k mod 251).
t0 = Date.now();
const b = bar(load ? 'loading' : 'filling', size);
let done = 0;
const fd = load ? fs.openSync(load, 'r') : -1;
for (const w of chunks) {
  for (let at = 0; at < w.length; at += BLOCK) {
    const piece = w.subarray(at, Math.min(w.length, at + BLOCK));
    if (fd >= 0) fs.readSync(fd, piece, 0, piece.length, done);
    else piece.fill(((done / BLOCK) | 0) % 251);
    done += piece.length;
    b.update(done);
  }
}
if (fd >= 0) fs.closeSync(fd);
s.x.persist();
b.stop();
console.log(`${load ? `loaded ${load}` : 'filled'} and persisted: ${fmt(size)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

// Element access across windows goes through .data.get/.set (or the ndarray's get/set).
if (chunks.length > 1) {
  const i = 2 ** 32 + 5;
  s.x.set(i, 42);
  console.log(`s.x.set(2**32 + 5, 42) -> s.x.get(2**32 + 5) = ${s.x.get(i)} (element in window ${Math.floor(i / chunks[0].length)})`);
}

// Close, re-open: the array is there at once, nothing is loaded. Check it block by block.
s.close();
t0 = Date.now();
s = shelf('big', { pmemPath: dir, readOnly: true });
const x = s.x;
console.log(`re-opened in ${Date.now() - t0} ms: s.x.shape = [${x.shape}], ${s.used}% used`);
t0 = Date.now();
let sum = 0;
for (const w of x.chunks()) for (let at = 0; at < w.length; at += 4096) sum += w[at];
console.log(`sampled every 4096th byte: sum ${sum} (${((Date.now() - t0) / 1000).toFixed(1)} s); process RSS ${fmt(process.memoryUsage().rss)} ` +
  '(mapped shelf pages count as RSS while cached, but the kernel can drop them: they are backed by the shelf, not by swap)');
s.close();
if (!process.argv.includes('--keep')) {
  for (const f of ['big.data', 'big.map']) fs.rmSync(path.join(dir, f), { force: true });
  console.log('removed the shelf (pass --keep to keep it; inspect with npx tsmm ls <dir>/big)');
}
