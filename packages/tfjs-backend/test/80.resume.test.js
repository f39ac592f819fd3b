'use strict';
// Bit-exact resume: train N steps uninterrupted, versus k steps + checkpoint + a NEW PROCESS that resumes and trains
// N-k steps: max |diff| = 0 for sgd, momentum, rmsprop and adam (whose accBeta1/accBeta2 are stored, not recomputed).
const test = require('ava');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const tb = require('@tsmm/tfjs-backend');
const { tempDir, buildModel, makeData, makeOptimizer, trainSteps, weightsOf, maxDiff, quietTfjs } = require('./fixtures/50.helpers');

quietTfjs();
const run = promisify(execFile);
const CHILD = path.join(__dirname, 'fixtures', '80.resume-child.js');
// With these data, resuming Adam at step 5 through tfjs' own getWeights/setWeights (accBeta recomputed as
// pow(beta, t+1)) drifts from the uninterrupted run (last test): the checkpoint must store accBeta1/accBeta2.
const K = 5;
const N = 20;

async function child(dir, backend, optimizer, phase) {
  const { stdout } = await run(process.execPath, [CHILD, dir, backend, optimizer, phase, String(K), String(N)]);
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** The uninterrupted run, in this process, on stock 'cpu' without any shelf. */
async function reference(optimizer) {
  await tf.setBackend('cpu');
  const model = buildModel(tfl, 'dense-bn');
  const opt = makeOptimizer(tf, optimizer);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  const data = makeData(tf, 'dense-bn', 32);
  await trainSteps(tf, model, data, 0, N);
  const out = {
    weights: weightsOf(model),
    accBeta: optimizer === 'adam' ? [opt.accBeta1.dataSync()[0], opt.accBeta2.dataSync()[0]] : null,
    iterations: opt.iterations,
  };
  tf.dispose([data.x, data.y]);
  model.dispose();
  opt.dispose();
  return out;
}

const RUNS = [
  ['sgd', 'shelf', 'shelf'],
  ['momentum', 'shelf', 'shelf'],
  ['rmsprop', 'shelf', 'shelf'],
  ['adam', 'shelf', 'shelf'],
  ['adam', 'cpu', 'cpu'],
  ['adam', 'shelf', 'cpu'],
  ['momentum', 'cpu', 'shelf'],
];

for (const [optimizer, first, second] of RUNS) {
  test.serial(`${optimizer}: ${K} steps on '${first}' + checkpoint, new process on '${second}' resumes ${N - K}: max |diff| = 0`, async (t) => {
    const ref = await reference(optimizer);
    const dir = tempDir(t);
    const a = await child(dir, first, optimizer, 'first');
    t.is(a.iterations, K + 3);
    const b = await child(dir, second, optimizer, 'resume');
    t.true(b.resumed);
    t.is(b.step, K);
    t.deepEqual(b.extra, { phase: 'first', backend: first });
    t.is(b.iterations, K, 'optimizer iterations restored from the checkpoint, not from the lost steps');
    t.is(b.finalIterations, ref.iterations);
    t.is(maxDiff(b.weights, ref.weights), 0);
    t.deepEqual(b.weights, ref.weights);
    if (optimizer === 'adam') t.deepEqual(b.accBeta, ref.accBeta);
  });
}

test.serial("why accBeta is stored: tfjs' own getWeights/setWeights resume of Adam is not bit-exact", async (t) => {
  const ref = await reference('adam');
  await tf.setBackend('cpu');
  const data = makeData(tf, 'dense-bn', 32);
  const m1 = buildModel(tfl, 'dense-bn');
  const o1 = makeOptimizer(tf, 'adam');
  m1.compile({ optimizer: o1, loss: 'categoricalCrossentropy' });
  await trainSteps(tf, m1, data, 0, K);
  const saved = await o1.getWeights();
  const m2 = buildModel(tfl, 'dense-bn');
  const o2 = makeOptimizer(tf, 'adam');
  m2.compile({ optimizer: o2, loss: 'categoricalCrossentropy' });
  m2.setWeights(m1.getWeights());
  await o2.setWeights(saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() })));
  await trainSteps(tf, m2, data, K, N);
  t.true(maxDiff(weightsOf(m2), ref.weights) > 0, 'pow(beta, t) differs from the accumulated product in float32');
  tf.dispose([data.x, data.y, saved.map((w) => w.tensor)]);
  m1.dispose();
  m2.dispose();
  o1.dispose();
  o2.dispose();
});
