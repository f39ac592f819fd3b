// bench/lib/row.js -- the shape of one result line, and how its ratio and pass/miss are decided.
//
// A row module (bench/rows/pN_*.js) exports { id, title, huge?, unavailable?(): string|null, run(ctx): {lines, notes?, extra?} }.
// Each line compares a tsmm side with a peer (or a bound, or an absolute limit):
//   ratio 'peer/tsmm'  -- how many times faster tsmm is (targets like "≥ 2.5×")
//   ratio 'tsmm/peer'  -- tsmm's time as a multiple of the peer's (targets like "≤ 1.10×")
//   ratio 'tsmm/bound' -- tsmm's time as a multiple of the physical bound
//   ratio 'tsmm/limit' -- an absolute target (P6: ≤ 100 ms; P7: RSS ≤ 2 GiB): the measured value over the limit
'use strict';
const { summarize } = require('./stats');

/**
 * Build a line. `tsmm` and `peer` are summaries from stats.summarize/interleave (or {median,...}), each with a `label`.
 * `target` is { op: '>=' | '<=', value, text? } or null (report only). Pass is decided on the ratio of the medians.
 */
function line({ id, label, what, bytes = null, unit = 'ms', per = null, tsmm, peer = null, ratioDef, target = null, note = null }) {
  let ratio = null;
  if (ratioDef === 'peer/tsmm') ratio = peer.median / tsmm.median;
  else if (ratioDef === 'tsmm/peer' || ratioDef === 'tsmm/bound' || ratioDef === 'tsmm/limit') ratio = tsmm.median / peer.median;
  let pass = null;
  if (target !== null && ratio !== null && Number.isFinite(ratio)) pass = target.op === '>=' ? ratio >= target.value : ratio <= target.value;
  const text = target === null ? 'report' : target.text ?? `${target.op === '>=' ? '≥' : '≤'} ${target.value}×`;
  return {
    id, label, what: what ?? null, bytes, unit, per, tsmm, peer, ratio, ratioDef,
    target: target === null ? null : { ...target, text }, pass, note,
  };
}

/** A peer-less "limit" pseudo-peer for absolute targets: { label, median: limit }. */
function limit(label, value) {
  return { label, median: value, min: value, max: value, q1: value, q3: value, iqr: 0, n: 0, runs: [] };
}

/** A line for a row that could not run (missing API, skipped mode, failure). */
function skipped(id, label, reason, what = null) {
  return { id, label, what, bytes: null, unit: 'ms', per: null, tsmm: null, peer: null, ratio: null, ratioDef: null, target: null, pass: null, skipped: reason };
}

module.exports = { line, limit, skipped, summarize };
