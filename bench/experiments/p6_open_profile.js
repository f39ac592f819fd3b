#!/usr/bin/env node
// p6_open_profile.js -- a shelf with 100,000 core entries, opened 20 times, for `perf record` (perf-findings PF-3).
// Usage: node bench/experiments/p6_open_profile.js DIR [pool|shelf]
//   perf record -g node --perf-basic-prof bench/experiments/p6_open_profile.js /tmp/p6 pool   (run from a scratch cwd)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Pool } = require('@tsmm/native');
const { shelf, internals } = require('@tsmm/core');

const [dir, what = 'pool'] = process.argv.slice(2);
if (!dir) throw new Error('usage: p6_open_profile.js DIR [pool|shelf]');
const N = 100000;
if (!fs.existsSync(path.join(dir, 'p6.map'))) {
  const s = shelf('p6', { sizeMb: 64, pmemPath: dir, forceNew: true });
  const inn = internals(s);
  const ndMeta = inn.encodeMeta('ndarray', { dtype: 'float64', shape: [8], stride: [1], order: 'C' });
  for (let i = 0; i < N; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) ops.push({ type: 'put', name: `v${String(j).padStart(6, '0')}`, offset: inn.pool.alloc(64), length: 64, meta: ndMeta });
    inn.commit(ops);
  }
  s.close();
}
const c0 = process.cpuUsage();
for (let r = 0; r < 20; r++) {
  if (what === 'pool') Pool.open(path.join(dir, 'p6')).close();
  else shelf('p6', { pmemPath: dir }).close();
}
const c = process.cpuUsage(c0);
console.log(`${what} open+close: ${((c.user + c.system) / 1000 / 20).toFixed(1)} ms CPU each`);
