#!/usr/bin/env node
// p2_load_costs.js -- where the CPU of `loadLayersModel('shelf://…')` goes (evidence for perf-findings PF-1).
// Usage: node bench/experiments/p2_load_costs.js DIR [stock|zeros|views|both] [width=2048] [loads=40]
//   stock  as shipped
//   zeros  tf.zeros returns a tensor over a cached zero buffer (removes tfjs-layers' throw-away fastWeightInit weights)
//   views  Pool.prototype.view returns the same ArrayBuffer for the same (offset, length) (no new external memory)
//   both   both of the above
// These are monkeypatches to MEASURE what each cause costs, not implementations to copy. Prints per-load wall and CPU.
'use strict';
const T = require('../lib/tfjs');

(async () => {
  const [dir, variant = 'stock', width = '2048', loads = '40'] = process.argv.slice(2);
  if (!dir) throw new Error('usage: p2_load_costs.js DIR [stock|zeros|views|both] [width] [loads]');
  const { tf, tl, tb } = T.loadTf();
  if (variant === 'views' || variant === 'both') {
    const { Pool } = require('@tsmm/native');
    const orig = Pool.prototype.view;
    const caches = new WeakMap();
    Pool.prototype.view = function view(o, l) {
      let c = caches.get(this);
      if (!c) caches.set(this, (c = new Map()));
      let v = c.get(`${o}:${l}`);
      if (!v || v.byteLength !== l) c.set(`${o}:${l}`, (v = orig.call(this, o, l)));
      return v;
    };
  }
  await tf.setBackend('cpu');
  const model = T.denseStack(tl, Number(width), 4);
  const url = `shelf://${dir}/p2-load-costs/model`;
  await model.save(url);
  tf.disposeVariables();
  await tf.setBackend('shelf');
  if (variant === 'zeros' || variant === 'both') {
    const cache = new Map();
    const orig = tf.zeros;
    tf.zeros = (shape, dtype = 'float32') => {
      if (dtype !== 'float32') return orig(shape, dtype);
      const size = shape.reduce((a, b) => a * b, 1);
      if (!cache.has(size)) cache.set(size, new Float32Array(size));
      return tf.tensor(cache.get(size), shape, dtype);
    };
  }
  for (let r = 0; r < 3; r++) (await tl.loadLayersModel(url)).dispose();
  const n = Number(loads);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < n; r++) (await tl.loadLayersModel(url)).dispose();
  const c = process.cpuUsage(c0);
  console.log(`${variant}: per load wall ${(Number(process.hrtime.bigint() - t0) / 1e6 / n).toFixed(2)} ms, ` +
    `cpu ${((c.user + c.system) / 1000 / n).toFixed(2)} ms`);
  tb.closeShelfUrls({ force: true });
})();
