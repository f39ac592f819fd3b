// bench/lib/stats.js -- timing and summary statistics shared by every row.
'use strict';

/** Milliseconds since `t0` (a process.hrtime.bigint()). */
function since(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Quantile q (0..1) of sorted xs, linear interpolation. */
function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Summary of a list of run times: median, min, max, quartiles, IQR, mean, the runs themselves. */
function summarize(runs) {
  const s = runs.slice().sort((a, b) => a - b);
  const q1 = quantile(s, 0.25);
  const q3 = quantile(s, 0.75);
  return {
    n: runs.length,
    median: quantile(s, 0.5),
    min: s[0],
    max: s[s.length - 1],
    q1,
    q3,
    iqr: q3 - q1,
    mean: runs.reduce((a, b) => a + b, 0) / (runs.length || 1),
    runs: runs.slice(),
  };
}

/** CPU time (user + system, all threads of the process) in ms since `c0` (a process.cpuUsage()). */
function cpuSince(c0) {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/**
 * Time `fn` and return { ms, cpu } (wall and process CPU time, ms): synchronously when `fn` is synchronous, as a
 * promise when it returns one. For sides that must keep setup outside the measurement: `return timed(() => work())`.
 */
function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = fn();
  const done = () => ({ ms: since(t0), cpu: cpuSince(c0) });
  if (r && typeof r.then === 'function') return r.then(done);
  return done();
}

/**
 * Run every function of `sides` once per round, interleaved (A B A B ..., the order alternating every round),
 * `warmup` rounds unrecorded then `runs` recorded. A side returns nothing (it is timed here, wall and CPU), a number
 * (its own wall time in ms) or { ms, cpu } (from timed()). Functions may be async. `beforeRound(r)` runs untimed first.
 * Returns { sideName: summary of wall ms, with .cpu = summary of CPU ms when known }.
 */
async function interleave(sides, { warmup = 1, runs = 5, beforeRound } = {}) {
  const names = Object.keys(sides);
  const rec = Object.fromEntries(names.map((n) => [n, { ms: [], cpu: [] }]));
  for (let r = -warmup; r < runs; r++) {
    if (beforeRound) await beforeRound(r);
    const order = r % 2 === 0 ? names : names.slice().reverse();
    for (const n of order) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const own = await sides[n](r);
      let ms = since(t0);
      let cpu = cpuSince(c0);
      if (typeof own === 'number') { ms = own; cpu = null; }
      else if (own && typeof own === 'object' && typeof own.ms === 'number') { ms = own.ms; cpu = own.cpu ?? null; }
      if (r >= 0) {
        rec[n].ms.push(ms);
        if (cpu !== null) rec[n].cpu.push(cpu);
      }
    }
  }
  return Object.fromEntries(names.map((n) => {
    const sum = summarize(rec[n].ms);
    if (rec[n].cpu.length === rec[n].ms.length) sum.cpu = summarize(rec[n].cpu);
    return [n, sum];
  }));
}

/** Divide every figure of a summary (and its cpu) by k: per-operation figures from per-run ones. */
function perOp(summary, k) {
  const out = summarize(summary.runs.map((t) => t / k));
  if (summary.cpu) out.cpu = summarize(summary.cpu.runs.map((t) => t / k));
  return out;
}

/** Human size: 64 MiB, 1.5 GiB, 800 B. */
function fmtBytes(n) {
  if (n == null) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 1)} ${u[i]}`;
}

/** Human time from milliseconds: 0.8 µs, 12.3 ms, 4.20 s. */
function fmtMs(ms) {
  if (ms == null || Number.isNaN(ms)) return '—';
  if (ms < 1) return `${(ms * 1000).toPrecision(3)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

module.exports = { since, cpuSince, timed, quantile, summarize, interleave, perOp, fmtBytes, fmtMs };
