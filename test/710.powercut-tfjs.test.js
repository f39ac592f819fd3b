'use strict';
// Simulated power loss during tfjs training checkpoints (issue 7): a model attached to a shelf trains with Adam and
// checkpoints after every step, on the trace build of the engine (packages/native/src/trace.hpp). Resuming from every
// power-cut image (attachModel, normal engine) must give exactly the training state -- weights, optimizer slots,
// iterations, step -- of the last acknowledged checkpoint or of the one in flight: never a mix, never older.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require('../packages/native/test/fixtures/100.powercut-lib');
const { load } = require('./fixtures/710.tfjs-state');

const CHILD = path.join(__dirname, 'fixtures', '710.tfjs-powercut-child.js');
const VERIFY = path.join(__dirname, 'fixtures', '710.tfjs-powercut-verify.js');

test.before(() => {
  lib.ensureTraceAddon();
});

test('power cuts during training checkpoints: every resume is a whole acknowledged (or in-flight) checkpoint', async (t) => {
  const { tf, tb, shelf, buildModel } = await load();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pmem = path.join(dir, 'pool');
  fs.mkdirSync(pmem);
  // the initial attach (creation of the checkpoint group) with the normal engine
  const s = shelf('p', { pmemPath: pmem, sizeMb: 2, forceNew: true });
  const model = buildModel();
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  tb.attachModel(s, 'm', model);
  s.close({ force: true });
  model.dispose();

  const r = lib.runTraced(CHILD, dir, path.join(pmem, 'p'), 'pair', [pmem, 'm', 40], { prob: 0.8, seed: 41 });
  t.is(r.status, 0, `training workload failed: ${r.signal || ''}\n${r.stderr.slice(-3000)}`);
  const { cuts, states, failures, crashes, done } = lib.verifyRun(dir, 'pair', { verifier: VERIFY });
  t.deepEqual(crashes.map((c) => c.cut), [], `resume crashed:\n${crashes.map((c) => `${c.signal} ${c.stderr}`).join('\n')}`);
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${cuts.length} images broke the contract`);
  t.truthy(done);
  if (!done) return;
  t.true(cuts.length >= 50, `${cuts.length} cuts`);
  t.true(done.inFlight > 0 && done.lastAcked > 0);
  t.log(`${done.images} cuts over ${states.length - 1} checkpoints: ${done.lastAcked} resumed the last acknowledged checkpoint, ` +
    `${done.inFlight} the one in flight; ${done.torn} images had torn unpersisted writes; by call: ${JSON.stringify(done.byCall)}`);
});
