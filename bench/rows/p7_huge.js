// P7 (--huge only) -- a float64 array of 1.5x the machine's RAM on a disk shelf, filled and summed window by window
// (`s.big = ndarray([N], 'float64')` is a chunked ndarray: its `.data` is a ChunkedData, `chunks()` gives its <= 4 GiB
// windows). Target: completes with the right sum, and the process RSS stays <= 2 GiB.
// Run: npm run bench -- --huge --rows P7      (needs 1.5x RAM of free disk under --dir; --huge-gib G sets another size)
//
// The process's memory is sampled from /proc/self/status after every 256 MiB slice: VmRSS (what the target is about),
// split into RssAnon (heap, buffers) and RssFile (pages of the mapped shelf file currently mapped into this process),
// and VmHWM (peak RSS) at the end. Shelf pages are page cache: the kernel can drop them under pressure, but while they
// are mapped into the process they count in its RSS.
'use strict';
const fs = require('node:fs');
const { shelf, ndarray } = require('@tsmm/core');
const { since, summarize } = require('../lib/stats');
const { line, limit } = require('../lib/row');

function memStatus() {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) || [])[1] || 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
}

module.exports = {
  id: 'P7',
  title: 'array of 1.5× RAM, filled and summed',
  huge: true,
  unavailable(ctx) {
    const bytes = ctx.hugeGiB ? ctx.hugeGiB * 2 ** 30 : 1.5 * ctx.memTotal;
    const free = fs.statfsSync(ctx.dirs.disk);
    if (free.bavail * free.bsize < bytes * 1.05 + 2 ** 30) {
      return `needs ${(bytes / 2 ** 30).toFixed(1)} GiB free under ${ctx.dirs.disk}, has ${((free.bavail * free.bsize) / 2 ** 30).toFixed(1)} GiB`;
    }
    return null;
  },
  async run(ctx) {
    const SLICE = 32 * 2 ** 20; // elements per slice: 256 MiB
    const want = ctx.hugeGiB ? ctx.hugeGiB * 2 ** 30 : 1.5 * ctx.memTotal;
    const N = Math.floor(want / 8 / SLICE) * SLICE;
    const bytes = N * 8;
    const peak = { rss: 0, anon: 0, file: 0 };
    const sample = () => {
      const m = memStatus();
      peak.rss = Math.max(peak.rss, m.rss);
      peak.anon = Math.max(peak.anon, m.anon);
      peak.file = Math.max(peak.file, m.file);
      return m;
    };
    ctx.log(`array of ${(bytes / 2 ** 30).toFixed(1)} GiB (${N} float64) on ${ctx.dirs.disk}, RAM ${(ctx.memTotal / 2 ** 30).toFixed(1)} GiB`);
    const phases = {};
    let t = process.hrtime.bigint();
    const s = shelf('p7', { sizeMb: Math.ceil(bytes / 2 ** 20) + 64, pmemPath: ctx.dirs.disk, forceNew: true });
    let sum = 0;
    try {
      s.big = ndarray([N], 'float64');
      const a = s.big;
      phases.create = since(t);
      sample();
      ctx.log(`created in ${(phases.create / 1000).toFixed(1)} s; RSS ${(sample().rss / 2 ** 30).toFixed(2)} GiB`);
      const wins = a.chunks();
      t = process.hrtime.bigint();
      let done = 0;
      let gbase = 0; // element index of the window's start in the whole array
      for (const w of wins) {
        for (let i = 0; i < w.length; i += SLICE) {
          const n = Math.min(SLICE, w.length - i);
          w.fill(1, i, i + n);
          // write the slice back and let go of its pages: RSS stays at about one slice, the data stays on the shelf
          a.persistOffset(gbase + i, n);
          a.advise('dontneed', gbase + i, n);
          done += n;
          const m = sample();
          if ((done / SLICE) % 16 === 0) ctx.log(`filled ${((done * 8) / 2 ** 30).toFixed(0)} GiB, RSS ${(m.rss / 2 ** 30).toFixed(2)} GiB (file ${(m.file / 2 ** 30).toFixed(2)})`);
        }
        gbase += w.length;
      }
      phases.fill = since(t);
      t = process.hrtime.bigint();
      a.persist();
      phases.persist = since(t);
      sample();
      t = process.hrtime.bigint();
      gbase = 0;
      for (const w of wins) {
        for (let i = 0; i < w.length; i += SLICE) {
          const e = Math.min(w.length, i + SLICE);
          let part = 0;
          for (let j = i; j < e; j++) part += w[j];
          sum += part;
          a.advise('dontneed', gbase + i, e - i);
          sample();
        }
        gbase += w.length;
      }
      phases.sum = since(t);
    } finally {
      s.close();
    }
    const end = memStatus();
    peak.hwm = end.hwm;
    if (sum !== N) throw new Error(`P7: sum is ${sum}, expected ${N}`);
    ctx.log(`fill ${(phases.fill / 1000).toFixed(1)} s, persist ${(phases.persist / 1000).toFixed(1)} s, sum ${(phases.sum / 1000).toFixed(1)} s; ` +
      `peak RSS ${(peak.hwm / 2 ** 30).toFixed(2)} GiB (anon ${(peak.anon / 2 ** 30).toFixed(2)}, file ${(peak.file / 2 ** 30).toFixed(2)})`);
    const one = (v, label) => ({ label, ...summarize([v]) });
    const gib = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    return {
      lines: [line({
        id: 'P7', label: `fill + sum ${gib(bytes)} (${(bytes / ctx.memTotal).toFixed(2)}× RAM), peak RSS`, unit: 'bytes', bytes,
        what: 'chunked shelved ndarray, window by window', tsmm: one(peak.hwm, 'VmHWM'), peer: limit('limit', 2 * 2 ** 30),
        ratioDef: 'tsmm/limit', target: { op: '<=', value: 1, text: 'completes, RSS ≤ 2 GiB' },
        note: `completed, sum correct; create ${(phases.create / 1000).toFixed(1)} s, fill ${(phases.fill / 1000).toFixed(1)} s ` +
          `(${((bytes / 2 ** 30) / (phases.fill / 1000)).toFixed(2)} GiB/s), persist ${(phases.persist / 1000).toFixed(1)} s, sum ${(phases.sum / 1000).toFixed(1)} s ` +
          `(${((bytes / 2 ** 30) / (phases.sum / 1000)).toFixed(2)} GiB/s); peak RssAnon ${gib(peak.anon)}, peak RssFile (mapped shelf pages) ${gib(peak.file)}`,
      })],
      extra: { bytes, N, phases, peak },
    };
  },
};
