#!/usr/bin/env node
// view_gc.js -- what one `pool.view()` of a large extent costs in GC (evidence for perf-findings PF-1, cause B).
// Usage: node --trace-gc bench/experiments/view_gc.js DIR [MiB=64] [calls=200] | grep -c Mark-Compact
'use strict';
const path = require('node:path');
const { Pool } = require('@tsmm/native');

const [dir, mib = '64', calls = '200'] = process.argv.slice(2);
if (!dir) throw new Error('usage: view_gc.js DIR [MiB] [calls]');
const len = Number(mib) * 2 ** 20;
const p = Pool.open(path.join(dir, 'view-gc'), { size: len + (16 << 20), forceNew: true });
const off = p.alloc(len);
p.commit([{ type: 'put', name: 'x', offset: off, length: len }]);
const n = Number(calls);
let keep = null;
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) keep = p.view(off, len);
const c = process.cpuUsage(c0);
console.log(`view(${mib} MiB) x${n}: wall ${(Number(process.hrtime.bigint() - t0) / 1e3 / n).toFixed(0)} us, ` +
  `cpu ${((c.user + c.system) / n).toFixed(0)} us per call (last view ${keep.byteLength} bytes)`);
p.close();
Pool.destroy(path.join(dir, 'view-gc'));
