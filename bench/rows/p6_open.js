// P6 -- open a shelf holding 100,000 entries with core's `shelf(name, {pmemPath})`. Target: <= 100 ms.
// Run alone: npm run bench -- --rows P6 [--quick]
//
// The shelf is filled once (untimed) with 100,000 real core entries: 3 of 4 are float64 ndarrays of 8 elements, 1 of 4 a
// number scalar, committed in batches of 1,000 through internals(s).commit with core's meta format. Each timed run is
// `shelf()` returning a usable shelf (index replay, allocator rebuild, transaction recovery check), the page cache warm.
// For reference the same open is timed one layer down (`Pool.open` of @tsmm/native), and `s.items` after the open.
'use strict';
const path = require('node:path');
const { shelf, internals } = require('@tsmm/core');
const { Pool } = require('@tsmm/native');
const { interleave, since, timed, summarize } = require('../lib/stats');
const { line, limit } = require('../lib/row');

module.exports = {
  id: 'P6',
  title: 'open a shelf with 100,000 entries',
  async run(ctx) {
    const N = 100000;
    const dir = ctx.dirs.disk;
    const t0 = process.hrtime.bigint();
    {
      const s = shelf('p6', { sizeMb: 64, pmemPath: dir, forceNew: true });
      const inn = internals(s);
      const ndMeta = inn.encodeMeta('ndarray', { dtype: 'float64', shape: [8], stride: [1], order: 'C' });
      for (let i = 0; i < N; i += 1000) {
        const ops = [];
        for (let j = i; j < Math.min(N, i + 1000); j++) {
          const name = `v${String(j).padStart(6, '0')}`;
          if (j % 4 === 3) ops.push({ type: 'put', name, offset: 0, length: 0, meta: inn.encodeMeta('scalar', { type: 'number', value: j }) });
          else ops.push({ type: 'put', name, offset: inn.pool.alloc(64), length: 64, meta: ndMeta });
        }
        inn.commit(ops);
      }
      s.close();
    }
    ctx.log(`filled ${N} entries in ${(since(t0) / 1000).toFixed(1)} s`);

    let opened = null;
    const items = [];
    const r = await interleave({
      tsmm: () => {
        const r0 = timed(() => { opened = shelf('p6', { pmemPath: dir }); });
        const t2 = process.hrtime.bigint();
        const n = opened.items.length;
        items.push(since(t2));
        if (n !== N) throw new Error(`P6: expected ${N} variables, shelf has ${n}`);
        if (opened.v000003 !== 3 || opened.v000001.shape[0] !== 8) throw new Error('P6: entries do not read back');
        opened.close();
        return r0;
      },
      engine: () => {
        let p = null;
        const r0 = timed(() => { p = Pool.open(path.join(dir, 'p6')); });
        p.close();
        return r0;
      },
    }, { warmup: ctx.warmup, runs: ctx.runs });
    const itemsS = summarize(items.slice(-ctx.runs));
    ctx.log(`shelf() ${r.tsmm.median.toFixed(1)} ms, Pool.open ${r.engine.median.toFixed(1)} ms, items ${itemsS.median.toFixed(1)} ms`);
    return {
      lines: [line({
        id: 'P6', label: 'shelf() open, 100,000 entries', what: 'open an existing shelf, page cache warm', bytes: null,
        tsmm: { label: 'shelf()', ...r.tsmm }, peer: limit('limit', 100),
        ratioDef: 'tsmm/limit', target: { op: '<=', value: 1, text: '≤ 100 ms' },
      })],
      notes: [`for reference: the engine's Pool.open of the same files takes ${r.engine.median.toFixed(1)} ms [${r.engine.min.toFixed(1)}–${r.engine.max.toFixed(1)}]; ` +
        `listing s.items after the open takes ${itemsS.median.toFixed(1)} ms`],
      extra: { engineOpen: r.engine, items: itemsS },
    };
  },
};
