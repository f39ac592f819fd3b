// P4 -- in-place ndarray-ops (addeq, assigns, sum) on 64M float64: a shelved ndarray vs the same ndarray in DRAM.
// Target: the shelved array takes <= 1.10x the DRAM array's time, for each op, on a shelf on disk and on /dev/shm.
// Run alone: npm run bench -- --rows P4 [--quick]
//
// Both sides are scijs ndarrays of the same shape and dtype, operated on by the same ndarray-ops functions; only where
// `.data` lives differs (a Float64Array over shelf memory, from `s.a = ndarray([N], 'float64')`, vs `new Float64Array(N)`).
// Both operands of addeq live on the same side. Timing excludes page faults of first touch (warm-up rounds touch every
// page), but not the write-protect faults a file mapping takes again after the kernel has written dirty pages back:
// those are part of what using shelf memory costs.
'use strict';
const { shelf, ndarray } = require('@tsmm/core');
const scijs = require('ndarray');
const ops = require('ndarray-ops');
const { interleave } = require('../lib/stats');
const { line } = require('../lib/row');

module.exports = {
  id: 'P4',
  title: 'in-place ndarray-ops on 64M float64',
  async run(ctx) {
    const N = 64 * 2 ** 20;
    const bytes = N * 8;
    const lines = [];
    const notes = [];
    // DRAM peer arrays, filled once
    const da = scijs(new Float64Array(N), [N]);
    const db = scijs(new Float64Array(N), [N]);
    const pattern = Float64Array.from({ length: 4096 }, (_, i) => 1e-6 * i);
    for (let i = 0; i < N; i += pattern.length) { da.data.set(pattern, i); db.data.set(pattern, i); }
    db.data.reverse();

    for (const medium of ['disk', 'shm']) {
      const t0 = Date.now();
      const s = shelf('p4', { sizeMb: (2 * bytes) / 2 ** 20 + 64, pmemPath: ctx.dirs[medium], forceNew: true });
      try {
        s.a = ndarray([N], 'float64');
        s.b = ndarray([N], 'float64');
        const sa = s.a;
        const sb = s.b;
        sa.data.set(da.data);
        sb.data.set(db.data);
        const persistMethod = s.stats().persistMethod;
        ctx.log(`${medium}: shelf on ${s.stats().medium} (${persistMethod}), ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

        const sums = { tsmm: [], peer: [] };
        const cases = [
          ['addeq', 'ops.addeq(a, b): a += b', { tsmm: () => { ops.addeq(sa, sb); }, peer: () => { ops.addeq(da, db); } }],
          ['assigns', 'ops.assigns(a, 3.5): a[i] = 3.5', { tsmm: () => { ops.assigns(sa, 3.5); }, peer: () => { ops.assigns(da, 3.5); } }],
          ['sum', 'ops.sum(b)', { tsmm: () => { sums.tsmm.push(ops.sum(sb)); }, peer: () => { sums.peer.push(ops.sum(db)); } }],
        ];
        for (const [op, what, sides] of cases) {
          const r = await interleave(sides, { warmup: ctx.warmup, runs: ctx.runs });
          lines.push(line({
            id: 'P4', label: `${op}, ${medium === 'disk' ? 'shelf on disk' : 'shelf on /dev/shm'}`, what, bytes: op === 'addeq' ? 2 * bytes : bytes,
            tsmm: { label: 'shelved', ...r.tsmm }, peer: { label: 'DRAM', ...r.peer },
            ratioDef: 'tsmm/peer', target: { op: '<=', value: 1.10, text: '≤ 1.10×' },
          }));
          ctx.log(`${medium} ${op}: shelved ${r.tsmm.median.toFixed(1)} ms, DRAM ${r.peer.median.toFixed(1)} ms`);
        }
        if (sums.tsmm.some((v, i) => v !== sums.peer[i])) throw new Error('P4: sum over the shelf differs from the sum in DRAM: the two sides did different work');
      } finally {
        s.close();
      }
    }
    notes.push('same ndarray-ops code on both sides; addeq reads b and writes a (bytes = both arrays); sums are checked equal');
    return { lines, notes };
  },
};
