'use strict';
// Simulated power loss at the shelf level (issue 7): puts, replaces, erases and transactions of @tsmm/core running on
// the trace build of the engine (packages/native/src/trace.hpp). Every power-cut image is recovered with shelf() --
// which rolls back a transaction the cut interrupted -- and must show exactly the state after the last acknowledged
// operation or after the one in flight: a transaction is all or nothing, a committed one is never lost, and no ".tx/"
// entry survives recovery. See packages/native/test/100.powercut.test.js for the engine-level runs.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { shelf } = require('@tsmm/core');
const lib = require('../packages/native/test/fixtures/100.powercut-lib');

const CHILD = path.join(__dirname, 'fixtures', '700.shelf-powercut-child.js');
const VERIFY = path.join(__dirname, 'fixtures', '700.shelf-powercut-verify.js');

test.before(() => {
  lib.ensureTraceAddon();
});

/** One traced shelf workload + verification of its images. */
function shelfPowerCuts(t, { seed, ops, prob }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pmem = path.join(dir, 'pool');
  fs.mkdirSync(pmem);
  shelf('p', { pmemPath: pmem, sizeMb: 1, forceNew: true }).close();
  const r = lib.runTraced(CHILD, dir, path.join(pmem, 'p'), 'pair', [pmem, 'p', seed, ops], { prob, seed });
  t.is(r.status, 0, `workload failed: ${r.signal || ''}\n${r.stderr.slice(-3000)}`);
  return lib.verifyRun(dir, 'pair', { verifier: VERIFY });
}

test('power cuts during shelf puts, replaces, erases and transactions: recovery yields an acknowledged prefix', (t) => {
  const { cuts, states, failures, crashes, done } = shelfPowerCuts(t, { seed: 31, ops: 70, prob: 0.6 });
  t.deepEqual(crashes.map((c) => c.cut), [], `recovery crashed:\n${crashes.map((c) => `${c.signal} ${c.stderr}`).join('\n')}`);
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${cuts.length} images broke the contract`);
  t.truthy(done);
  if (!done) return;
  t.true(cuts.length >= 100, `${cuts.length} cuts`);
  t.true(done.txRecovered > 0, 'some cuts interrupted a transaction and recovery rolled it back');
  t.log(`${done.images} cuts over ${states.length - 1} acknowledged shelf operations: ${done.lastAcked} recovered the last ` +
    `acknowledged one, ${done.inFlight} the one in flight, ${done.txRecovered} rolled back an interrupted transaction; ` +
    `${done.torn} images had torn unpersisted writes`);
});
