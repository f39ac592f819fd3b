// P5 -- durable random 8-byte updates: `a.data[i] = v; a.persistOffset(i, 1)` on a shelved float64 array, vs the way to
// make the same 8 bytes durable in a file without tsmm: `fs.writeSync(fd, 8 bytes, at i*8)` + `fs.fdatasyncSync(fd)`.
// Both on the same medium: /dev/shm (target: tsmm >= 2x faster) and disk (report).
// Run alone: npm run bench -- --rows P5 [--quick]
//
// One run = K updates at the same precomputed random offsets on both sides; the figure is time per update.
// On tmpfs the engine's persist is a fence (no system call): tmpfs survives processes, not power, exactly like the
// page cache the peer's fdatasync reaches there. On disk both end in a device flush of one page.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { shelf, ndarray } = require('@tsmm/core');
const { interleave, perOp } = require('../lib/stats');
const { line } = require('../lib/row');

module.exports = {
  id: 'P5',
  title: 'durable random 8-byte updates',
  async run(ctx) {
    const N = 2 ** 20; // 8 MiB array
    const lines = [];
    const notes = [];
    for (const medium of ['shm', 'disk']) {
      const K = medium === 'shm' ? (ctx.quick ? 100000 : 500000) : (ctx.quick ? 100 : 500);
      const idx = new Uint32Array(K);
      let seed = 12345;
      for (let k = 0; k < K; k++) { seed = (seed * 1103515245 + 12345) >>> 0; idx[k] = seed % N; }

      const s = shelf('p5', { sizeMb: 64, pmemPath: ctx.dirs[medium], forceNew: true });
      const file = path.join(ctx.dirs[medium], 'p5-peer.bin');
      const fd = fs.openSync(file, 'w+');
      try {
        s.a = ndarray([N], 'float64');
        const a = s.a;
        a.persist();
        // the peer file: same size, written and synced once so that the timed writes overwrite allocated blocks
        fs.writeSync(fd, Buffer.alloc(N * 8));
        fs.fsyncSync(fd);
        const cell = new Float64Array(1);
        const cellBytes = new Uint8Array(cell.buffer);
        const data = a.data;
        let v = 0;
        const r = await interleave({
          tsmm: () => {
            for (let k = 0; k < K; k++) {
              const i = idx[k];
              data[i] = ++v;
              a.persistOffset(i, 1);
            }
          },
          peer: () => {
            for (let k = 0; k < K; k++) {
              const i = idx[k];
              cell[0] = ++v;
              fs.writeSync(fd, cellBytes, 0, 8, i * 8);
              fs.fdatasyncSync(fd);
            }
          },
        }, { warmup: ctx.warmup, runs: ctx.runs });
        const per = (x) => perOp(x, K);
        const st = s.stats();
        lines.push(line({
          id: 'P5', label: medium === 'shm' ? 'persistOffset on /dev/shm' : 'persistOffset on disk', per: 'per update',
          what: `${K} random 8-byte updates per run`, bytes: 8,
          tsmm: { label: `persistOffset (${st.persistMethod})`, ...per(r.tsmm) }, peer: { label: 'pwrite+fdatasync', ...per(r.peer) },
          ratioDef: 'peer/tsmm', target: medium === 'shm' ? { op: '>=', value: 2, text: '≥ 2×' } : null,
        }));
        ctx.log(`${medium}: persistOffset ${(per(r.tsmm).median * 1000).toFixed(2)} µs, pwrite+fdatasync ${(per(r.peer).median * 1000).toFixed(2)} µs per update`);
      } finally {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
        s.close();
      }
    }
    notes.push('updates go to the same random offsets on both sides; on disk both sides write one 4 KiB page and flush per update');
    return { lines, notes };
  },
};
