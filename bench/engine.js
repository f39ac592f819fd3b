#!/usr/bin/env node
// bench/engine.js -- pool engine figures: open time with many entries, commit rate, persist throughput.
// Run: node bench/engine.js [--dir DIR] [--entries 100000]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pool } = require('@tsmm/native');

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const dir = fs.mkdtempSync(path.join(opt('--dir', os.tmpdir()), 'tsmm-bench-'));
const N = Number(opt('--entries', 100000));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

try {
  // 1. open time of a pool with N entries (committed in batches of 1000, as an application would)
  const p = Pool.open(path.join(dir, 'many'), { size: N * 256 + (64 << 20) });
  for (let i = 0; i < N; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      const off = p.alloc(64);
      ops.push({ type: 'put', name: `var/${j}`, offset: off, length: 64, meta: Buffer.from(JSON.stringify({ v: 1, kind: "ndarray", header: { dtype: "float64", shape: [8], stride: [1], order: "C" } })) });
    }
    p.commit(ops);
  }
  p.close();
  const opens = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    const q = Pool.open(path.join(dir, 'many'));
    opens.push(ms(t0));
    if (q.stats().entries !== N) throw new Error('entry count mismatch');
    q.close();
  }
  console.log(`open with ${N} entries: median ${median(opens).toFixed(1)} ms (7 runs: ${opens.map((x) => x.toFixed(1)).join(', ')})`);

  // 2. durable single-put commit rate
  const c = Pool.open(path.join(dir, 'commits'), { size: 64 << 20 });
  const t1 = process.hrtime.bigint();
  const K = 500;
  for (let i = 0; i < K; i++) {
    const off = c.alloc(64);
    c.commit([{ type: 'put', name: `k${i % 50}`, offset: off, length: 64 }]);
  }
  console.log(`durable commit (1 put, 64 B): ${(ms(t1) / K * 1000).toFixed(0)} us each (${c.stats().medium}, ${c.stats().persistMethod})`);
  c.close();

  // 3. persist throughput of freshly dirtied bytes
  for (const mb of [1, 32, 256]) {
    const q = Pool.open(path.join(dir, `persist${mb}`), { size: (mb + 4) << 20 });
    const off = q.alloc(mb << 20);
    const v = new Uint8Array(q.view(off, mb << 20));
    const runs = [];
    for (let r = 0; r < 5; r++) {
      v.fill(r + 1);
      const t0 = process.hrtime.bigint();
      q.persist(off, mb << 20);
      runs.push(ms(t0));
    }
    const m = median(runs);
    console.log(`persist ${mb} MiB dirty: median ${m.toFixed(1)} ms = ${((mb / 1024) / (m / 1000)).toFixed(2)} GiB/s`);
    q.close();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
