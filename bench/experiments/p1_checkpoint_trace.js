#!/usr/bin/env node
// p1_checkpoint_trace.js -- repeated checkpoints of an attached dense model, every byte dirtied before each, for strace
// (perf-findings PF-2): strace -f -T -e trace=msync,fdatasync,fsync,rename node bench/experiments/p1_checkpoint_trace.js DIR
// Usage: node bench/experiments/p1_checkpoint_trace.js DIR [width=2048] [rounds=6] [layers=4]
'use strict';
const fs = require('node:fs');
const { shelf } = require('@tsmm/core');
const T = require('../lib/tfjs');

(async () => {
  const [dir, width = '2048', rounds = '6', layers = '4'] = process.argv.slice(2);
  if (!dir) throw new Error('usage: p1_checkpoint_trace.js DIR [width] [rounds] [layers]');
  const { tf, tl, tb } = T.loadTf();
  await tf.setBackend('shelf');
  const model = T.denseStack(tl, Number(width), Number(layers));
  const bytes = T.weightBytes(model);
  const s = shelf('ckpt-trace', { sizeMb: Math.ceil((3 * bytes) / 2 ** 20) + 64, pmemPath: dir, forceNew: true });
  tb.attachModel(s, 'm', model, { optimizer: null });
  const vals = T.weightValues(model);
  const alt = [0, 1].map((k) => model.weights.map((w, i) => tf.tensor(vals[i].values.map((x) => x + (k ? 1e-3 : -1e-3)), w.shape)));
  for (let r = 0; r < Number(rounds); r++) {
    model.weights.forEach((w, i) => w.write(alt[r % 2][i]));
    fs.writeSync(2, `--- checkpoint ${r}\n`);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    tb.checkpoint(s, 'm', { step: r });
    const c = process.cpuUsage(c0);
    fs.writeSync(2, `--- done ${r}: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms ` +
      `(cpu user ${(c.user / 1000).toFixed(1)}, sys ${(c.system / 1000).toFixed(1)})\n`);
  }
  s.close({ force: true });
})();
