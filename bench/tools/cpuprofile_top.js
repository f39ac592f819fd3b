#!/usr/bin/env node
// cpuprofile_top.js -- summarize a V8 .cpuprofile (from `node --cpu-prof` or `npm run bench -- --prof`) in the terminal:
// the functions with the most self time, and the most inclusive time, optionally only under a function matching --under.
// Usage: node bench/tools/cpuprofile_top.js FILE.cpuprofile [--top 25] [--under REGEX]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && (args.indexOf(a) === 0 || !args[args.indexOf(a) - 1].startsWith('--')));
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const top = Number(opt('--top', 25));
const under = opt('--under', null);
if (!file) {
  process.stderr.write('usage: node bench/tools/cpuprofile_top.js FILE.cpuprofile [--top N] [--under REGEX]\n');
  process.exit(2);
}
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// time per sample: deltas
const selfUs = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt);
}
const label = (n) => {
  const cf = n.callFrame;
  const where = cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : '';
  return `${cf.functionName || '(anonymous)'} ${where}`.trim();
};
const underRe = under ? new RegExp(under) : null;
const isUnder = (id) => {
  if (!underRe) return true;
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) if (underRe.test(label(byId.get(cur)))) return true;
  return false;
};
const self = new Map();
const incl = new Map();
let total = 0;
for (const [id, us] of selfUs) {
  if (!isUnder(id)) continue;
  total += us;
  const l = label(byId.get(id));
  self.set(l, (self.get(l) ?? 0) + us);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const pl = label(byId.get(cur));
    if (seen.has(pl)) continue;
    seen.add(pl);
    incl.set(pl, (incl.get(pl) ?? 0) + us);
  }
}
const show = (title, m) => {
  process.stdout.write(`\n${title} (total ${(total / 1000).toFixed(1)} ms${under ? ` under /${under}/` : ''})\n`);
  for (const [l, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${l}\n`);
  }
};
show('self time', self);
show('inclusive time', incl);
