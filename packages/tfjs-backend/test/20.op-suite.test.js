'use strict';
// tfjs-core's own op test suite (the ./ops/ part of @tensorflow/tfjs-core/dist/tests.js) against 'shelf',
// once per placement, the way tfjs-backend-cpu runs it: jasmine, setTestEnvs, IS_TEST leak checks on.
// Each run is a child process (harness/op_suite_run.js) over one esbuild bundle (harness/op_suite_build.js).
// Exclusions, each with its reason: harness/op_suite_excludes.js.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const tfCore = require('@tensorflow/tfjs-core');
const { buildOpSuite } = require('./harness/op_suite_build');
const { EXCLUDES } = require('./harness/op_suite_excludes');

// Measured with tfjs-core 4.22.0: the op specs that run on 'cpu' (all pass there), and how many of them are
// in describeWithFlags blocks (whose names carry the test env); the other 141 are plain describe() blocks,
// which use the default backend: for 'shelf' runs the 'cpu' factory is removed, so that is 'shelf' too.
const EXPECTED_SPECS = 3473;
const EXPECTED_WITH_FLAGS = 3332;

const RUNNER = path.join(__dirname, 'harness', 'op_suite_run.js');
const NODE_MODULES = path.resolve(require.resolve('@tensorflow/tfjs-core/package.json'), '..', '..', '..');

let dir;
let bundle;

test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  bundle = path.join(dir, 'op_suite.bundle.js');
  await buildOpSuite(bundle);
});

test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function run(backend, placement) {
  const pmem = fs.mkdtempSync(path.join(dir, `pmem-${placement}-`));
  const env = {
    ...process.env,
    TSMM_OP_SUITE_BACKEND: backend,
    TSMM_OP_SUITE_PLACEMENT: placement,
    TSMM_PMEM_PATH: pmem,
    TSMM_BACKEND_POISON: '1', // released pool blocks read as NaN: a read after release fails a spec
    NODE_PATH: NODE_MODULES,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', d => (out += d));
    child.stderr.on('data', d => (err += d));
    child.on('error', reject);
    child.on('close', code => {
      const line = out.split('\n').find(l => l.startsWith('OPSUITE '));
      if (!line) return reject(new Error(`runner exited ${code} without a summary\n${out.slice(-4000)}\n${err.slice(-4000)}`));
      resolve({ code, summary: JSON.parse(line.slice('OPSUITE '.length)), stderr: err });
    });
  });
}

function expectedExcluded(backend, placement) {
  // an exclusion with no backends/placements applies everywhere; the runner reports the real count
  return EXCLUDES.filter(x => (!x.backends || x.backends.includes(backend)) && (!x.placements || x.placements.includes(placement)));
}

test('the suite is tfjs-core 4.22 op suite: all specs pass on cpu', async t => {
  t.is(tfCore.version_core, '4.22.0', 'EXPECTED_SPECS was measured on tfjs-core 4.22.0');
  const { code, summary } = await run('cpu', 'named');
  t.is(summary.failed, 0, JSON.stringify(summary.failures, null, 1));
  t.is(summary.total, EXPECTED_SPECS);
  t.is(summary.passed, EXPECTED_SPECS);
  t.is(summary.onBackend, EXPECTED_WITH_FLAGS);
  t.is(code, 0);
});

for (const placement of ['named', 'all']) {
  test(`op suite on 'shelf', placement '${placement}'`, async t => {
    const { code, summary } = await run('shelf', placement);
    t.log(`shelf/${placement}: ${summary.passed} passed, ${summary.failed} failed, ${summary.excluded} excluded ` +
      `(${summary.seconds}s); pool writes ${summary.stats.poolWrites} (${summary.stats.poolBytes} bytes, ` +
      `${summary.stats.poolCopyMs.toFixed(1)} ms copying)`);
    t.is(summary.failed, 0, JSON.stringify(summary.failures, null, 1));
    t.deepEqual(summary.topLevelErrors, []);
    t.is(summary.total, EXPECTED_SPECS, 'every op spec is seen (run or excluded)');
    t.is(summary.onBackend, EXPECTED_WITH_FLAGS, "every describeWithFlags suite ran on the 'shelf' test env");
    t.deepEqual(summary.backendFactories, ['shelf'], "no other backend could run a spec");
    t.is(summary.leakChecked, EXPECTED_WITH_FLAGS, 'IS_TEST (kernel leak checks) was on for every describeWithFlags spec');
    t.is(summary.passed + summary.excluded, EXPECTED_SPECS);
    if (expectedExcluded('shelf', placement).length === 0) t.is(summary.excluded, 0);
    if (placement === 'all') {
      t.true(summary.stats.poolWrites > 0, 'placement all put buffers in the pool');
      t.is(summary.stats.pool.liveBlocks, 0, 'every pool buffer was released');
    } else {
      t.is(summary.stats.poolWrites, 0);
      t.false(summary.stats.pool.open, "placement 'named' never opens the backend pool");
    }
    t.is(code, 0);
  });
}
