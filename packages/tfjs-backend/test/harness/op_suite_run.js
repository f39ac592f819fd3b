'use strict';
/**
 * Runs a bundle made by op_suite_build.js under jasmine-core and prints one summary line:
 *   OPSUITE {"backend":..,"placement":..,"total":..,"passed":..,"failed":..,"excluded":..,"pending":..,"failures":[..]}
 * Exit code 0 when nothing failed.
 *
 * Environment: TSMM_OP_SUITE_BACKEND ('shelf' | 'cpu'), TSMM_OP_SUITE_PLACEMENT ('named' | 'all'),
 * TSMM_PMEM_PATH (where placement 'all' opens the backend's volatile pool).
 * Usage: node op_suite_run.js BUNDLE
 */
const path = require('node:path');

process.on('unhandledRejection', e => { throw e; });
Error.stackTraceLimit = 50;

const bundle = path.resolve(process.argv[2] || '');
const jasmineRequire = require('jasmine-core');
const jasmine = jasmineRequire.boot(jasmineRequire); // defines describe/it/... globals
const env = jasmine.getEnv();
jasmine.DEFAULT_TIMEOUT_INTERVAL = 60000;
env.configure({ random: false, stopOnSpecFailure: false });

const counts = { total: 0, passed: 0, failed: 0, excluded: 0, pending: 0, onBackend: 0, leakChecked: 0 };
const t0 = Date.now();
const failures = [];
let topLevelErrors = [];
env.addReporter({
  specStarted() {
    // describeWithFlags sets IS_TEST in its beforeAll: the engine then checks every kernel for leaked dataIds
    const { tf } = globalThis.__tsmmOpSuite;
    if (tf.env().getBool('IS_TEST')) counts.leakChecked++;
  },
  specDone(r) {
    counts.total++;
    // describeWithFlags names every suite "<name> <testEnv.name> <flags>": proof of which backend ran it
    if (r.fullName.includes(` ${globalThis.__tsmmOpSuite.backendName} {`)) counts.onBackend++;
    if (r.status === 'passed') counts.passed++;
    else if (r.status === 'failed') {
      counts.failed++;
      if (failures.length < 50) {
        failures.push({ name: r.fullName, messages: r.failedExpectations.map(f => f.message).slice(0, 3) });
      }
    } else if (r.status === 'excluded') counts.excluded++;
    else counts.pending++;
  },
  suiteDone(r) {
    // errors in beforeAll/afterAll land on the suite
    for (const f of r.failedExpectations || []) {
      if (topLevelErrors.length < 20) topLevelErrors.push({ suite: r.fullName, message: f.message });
    }
  },
  jasmineDone(r) {
    for (const f of r.failedExpectations || []) topLevelErrors.push({ suite: '(top)', message: f.message });
    const { backendName, placement, shelfBackend, tf } = globalThis.__tsmmOpSuite;
    const summary = {
      backend: backendName,
      placement: backendName === 'shelf' ? placement : null,
      ...counts,
      suiteErrors: topLevelErrors.length,
      overall: r.overallStatus,
      seconds: (Date.now() - t0) / 1000,
      backendFactories: Object.keys(tf.engine().registryFactory),
      failures,
      topLevelErrors,
      stats: backendName === 'shelf' && shelfBackend.shelfBackendStats ? shelfBackend.shelfBackendStats() : undefined,
    };
    process.stdout.write(`OPSUITE ${JSON.stringify(summary)}\n`);
    process.exitCode = counts.failed === 0 && topLevelErrors.length === 0 ? 0 : 1;
  },
});

require(bundle);
env.execute();
