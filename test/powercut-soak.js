#!/usr/bin/env node
'use strict';
// powercut-soak.js -- the `--power-cuts N` mode of `npm run soak` (test/soak.js dispatches here), also runnable alone:
//
//   node test/powercut-soak.js --power-cuts N [--seed S] [--workloads native,shelf,tfjs] [--keep]
//
// Runs traced workloads round after round (see packages/native/src/trace.hpp and
// packages/native/test/fixtures/100.powercut-lib.js) until N power-cut images have been recovered and checked:
//   native  the engine alone: pair and single layout, msync and cache-line (TSMM_PERSIST=clflush) persists
//   shelf   @tsmm/core puts, replaces, erases and transactions
//   tfjs    @tsmm/tfjs-backend training checkpoints (skipped when tfjs is not installed)
//   or one native kind exactly: --workloads native:single:clflush (layout pair|single, persist msync|clflush)
// Each image must recover to the state after the last acknowledged operation or the one in flight. Failing images are
// kept (their directory is printed); with --keep, every run directory is kept. Exit code 0 when every image passed.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const lib = require(path.join(ROOT, 'packages', 'native', 'test', 'fixtures', '100.powercut-lib'));

const KiB = 1024;
const USAGE = 'usage: node test/powercut-soak.js --power-cuts N [--seed S] [--workloads native,shelf,tfjs] [--keep]';

function parseArgs(argv) {
  const o = { count: 0, seed: Date.now() % 100000, workloads: ['native', 'shelf', 'tfjs'], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--power-cuts') o.count = Number(val());
    else if (a === '--seed') o.seed = Number(val());
    else if (a === '--workloads') o.workloads = val().split(',');
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (!Number.isInteger(o.count) || o.count <= 0) throw new Error(`--power-cuts needs a positive integer\n${USAGE}`);
  return o;
}

function hasTfjs() {
  try {
    require.resolve('@tensorflow/tfjs-core', { paths: [ROOT] });
    require.resolve('@tsmm/tfjs-backend', { paths: [ROOT] });
    return true;
  } catch {
    return false;
  }
}

/** One round of a workload: returns verifyRun()'s result plus the run dir. */
async function round(kind, seed, keep) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-powercut-'));
  const pmem = path.join(dir, 'pool');
  fs.mkdirSync(pmem);
  const p = path.join(pmem, 'p');
  let res;
  if (kind.startsWith('native')) {
    const [, layout, persist] = kind.split(':');
    const { Pool } = require('@tsmm/native');
    Pool.open(p, layout === 'single' ? { layout, size: 512 * KiB, logSize: 16 * KiB } : { size: 512 * KiB }).close();
    const child = path.join(ROOT, 'packages', 'native', 'test', 'fixtures', '100.powercut-child.js');
    const r = lib.runTraced(child, dir, p, layout, [p, layout, seed, 80], { prob: 0.8, seed }, persist === 'clflush' ? { TSMM_PERSIST: 'clflush' } : {});
    if (r.status !== 0) throw new Error(`${kind} workload failed (seed ${seed}): ${r.signal || ''}\n${r.stderr.slice(-3000)}`);
    res = lib.verifyRun(dir, layout, { keep });
  } else if (kind === 'shelf') {
    const { shelf } = require('@tsmm/core');
    shelf('p', { pmemPath: pmem, sizeMb: 1, forceNew: true }).close();
    const r = lib.runTraced(path.join(__dirname, 'fixtures', '700.shelf-powercut-child.js'), dir, p, 'pair', [pmem, 'p', seed, 100], { prob: 0.7, seed });
    if (r.status !== 0) throw new Error(`shelf workload failed (seed ${seed}): ${r.signal || ''}\n${r.stderr.slice(-3000)}`);
    res = lib.verifyRun(dir, 'pair', { verifier: path.join(__dirname, 'fixtures', '700.shelf-powercut-verify.js'), keep });
  } else {
    const { load } = require('./fixtures/710.tfjs-state');
    const { tf, tb, shelf, buildModel } = await load();
    const s = shelf('p', { pmemPath: pmem, sizeMb: 2, forceNew: true });
    const model = buildModel();
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    tb.attachModel(s, 'm', model);
    s.close({ force: true });
    model.dispose();
    const r = lib.runTraced(path.join(__dirname, 'fixtures', '710.tfjs-powercut-child.js'), dir, p, 'pair', [pmem, 'm', 40], { prob: 0.8, seed });
    if (r.status !== 0) throw new Error(`tfjs workload failed (seed ${seed}): ${r.signal || ''}\n${r.stderr.slice(-3000)}`);
    res = lib.verifyRun(dir, 'pair', { verifier: path.join(__dirname, 'fixtures', '710.tfjs-powercut-verify.js'), keep });
  }
  const clean = res.failures.length === 0 && res.crashes.length === 0;
  if (clean && !keep) fs.rmSync(dir, { recursive: true, force: true });
  return { ...res, dir };
}

/** Run rounds until `count` images were checked. Returns the totals; throws nothing for contract failures. */
async function powerCutSoak({ count, seed = 1, workloads = ['native', 'shelf', 'tfjs'], keep = false, log = (s) => process.stdout.write(s + '\n') }) {
  const kinds = workloads.filter((w) => w.includes(':')); // explicit kinds, e.g. native:single:clflush
  if (workloads.includes('native')) kinds.push('native:pair:msync', 'native:single:msync', 'native:pair:clflush', 'native:single:clflush');
  if (workloads.includes('shelf')) kinds.push('shelf');
  if (workloads.includes('tfjs') && hasTfjs()) kinds.push('tfjs');
  if (kinds.length === 0) throw new Error('no workload to run');
  const totals = { images: 0, lastAcked: 0, inFlight: 0, torn: 0, failures: 0, crashes: 0, rounds: 0, byKind: {} };
  const bad = [];
  const t0 = Date.now();
  for (let i = 0; totals.images < count; i++) {
    const kind = kinds[i % kinds.length];
    const s = seed + i;
    const res = await round(kind, s, keep);
    const d = res.done || { images: 0, lastAcked: 0, inFlight: 0, torn: 0 };
    const images = d.images + res.crashes.length;
    totals.rounds++;
    totals.images += images;
    totals.lastAcked += d.lastAcked;
    totals.inFlight += d.inFlight;
    totals.torn += d.torn;
    totals.failures += res.failures.length;
    totals.crashes += res.crashes.length;
    totals.byKind[kind] = (totals.byKind[kind] || 0) + images;
    if (res.failures.length || res.crashes.length) bad.push({ kind, seed: s, dir: res.dir, failures: res.failures.slice(0, 3), crashes: res.crashes.slice(0, 3) });
    log(`power-cuts: round ${totals.rounds} ${kind} seed ${s}: ${images} images, ${res.failures.length} failed, ${res.crashes.length} crashed ` +
      `(total ${totals.images}/${count}, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  totals.seconds = Math.round((Date.now() - t0) / 1000);
  return { totals, bad };
}

module.exports = { powerCutSoak, parseArgs };

if (require.main === module) {
  (async () => {
    let o;
    try {
      o = parseArgs(process.argv.slice(2));
    } catch (e) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    lib.ensureTraceAddon();
    const { totals, bad } = await powerCutSoak(o);
    process.stdout.write(`power-cuts: ${totals.images} images in ${totals.rounds} rounds (${totals.seconds} s, first seed ${o.seed}): ` +
      `${totals.lastAcked} recovered the last acknowledged state, ${totals.inFlight} the one in flight, ${totals.torn} with torn writes; ` +
      `${totals.failures} failed, ${totals.crashes} crashed; by workload ${JSON.stringify(totals.byKind)}\n`);
    for (const b of bad) process.stdout.write(`FAILED ${b.kind} seed ${b.seed}, images kept in ${b.dir}:\n${JSON.stringify(b.failures.concat(b.crashes), null, 1).slice(0, 4000)}\n`);
    process.exit(bad.length ? 1 : 0);
  })().catch((e) => {
    process.stderr.write(`${(e && e.stack) || e}\n`);
    process.exit(1);
  });
}
