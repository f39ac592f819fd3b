'use strict';
// model.fit() with weights attached to a shelf gives weights bit-identical to stock training:
// 'shelf' (zero-copy) and 'cpu' (mirror) against stock 'cpu', for a dense net, conv + batchnorm + dropout, and an LSTM.
// Tensor counts stay flat across fit() under 'shelf', 'cpu' and 'wasm'.
const test = require('ava');
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const tb = require('@tsmm/tfjs-backend');
const { internals } = require('@tsmm/core');
const { freshShelf, tempDir, buildModel, makeData, makeOptimizer, weightsOf, bitEqual, maxDiff, quietTfjs } = require('./fixtures/50.helpers');

quietTfjs();
wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);

/** Tensors, dataIds the engine tracks, and dataIds the backend stores. */
function counts() {
  const m = tf.memory();
  return { numTensors: m.numTensors, numDataBuffers: m.numDataBuffers, backendDataIds: tf.backend().numDataIds() };
}

const CASES = [
  { kind: 'dense', optimizer: 'adam' },
  { kind: 'conv', optimizer: 'adam' },
  { kind: 'conv', optimizer: 'momentum' },
  { kind: 'lstm', optimizer: 'rmsprop' },
];

/** Optimizer variables in a stable order (their values, copied). */
function optimizerValues(opt) {
  return tb.optimizerSlots(opt).map((s) => Array.from(s.variable.dataSync()));
}

/** Train `kind` with `optimizer` on `backend`; attach to a shelf first when `s` is given. */
async function train(t, backend, kind, optimizer, s) {
  await tf.setBackend(backend);
  const model = buildModel(tfl, kind);
  const opt = makeOptimizer(tf, optimizer);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  if (s !== undefined) {
    const r = tb.attachModel(s, 'run', model);
    t.false(r.resumed);
  }
  const { x, y } = makeData(tf, kind, 32);
  await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
  // a second fit must not grow the tensor count (the first one created the optimizer's slot variables)
  const before = counts();
  await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
  t.deepEqual(counts(), before, `tensor counts across fit() on ${backend}${s ? ' (attached)' : ''}`);
  const out = { weights: weightsOf(model), slots: optimizerValues(opt), iterations: opt.iterations };
  if (s !== undefined) {
    // what landed on the shelf is the model: checkpoint, then read the committed buffers back through core
    tb.checkpoint(s, 'run', { step: opt.iterations });
    model.weights.forEach((w, i) => {
      const stored = s[`run/var/${i}`];
      t.true(bitEqual([Array.from(stored.dataSync())], [Array.from(w.read().dataSync())]), `shelf copy of ${w.name}`);
      stored.dispose();
    });
    tb.detachModel(s, 'run');
  }
  tf.dispose([x, y]);
  model.dispose();
  opt.dispose();
  return out;
}

for (const { kind, optimizer } of CASES) {
  test.serial(`${kind} + ${optimizer}: 'shelf' and attached 'cpu' equal stock 'cpu' bit for bit`, async (t) => {
    const ref = await train(t, 'cpu', kind, optimizer);
    const { s: s1 } = freshShelf(t, {}, 'zero-copy');
    const onShelf = await train(t, 'shelf', kind, optimizer, s1);
    const { s: s2 } = freshShelf(t, {}, 'mirror');
    const mirrored = await train(t, 'cpu', kind, optimizer, s2);
    t.true(ref.weights.length > 0);
    t.true(bitEqual(onShelf.weights, ref.weights), `shelf: max |diff| ${maxDiff(onShelf.weights, ref.weights)}`);
    t.true(bitEqual(mirrored.weights, ref.weights), `cpu attached: max |diff| ${maxDiff(mirrored.weights, ref.weights)}`);
    t.true(bitEqual(onShelf.slots, ref.slots), 'optimizer state (shelf)');
    t.true(bitEqual(mirrored.slots, ref.slots), 'optimizer state (cpu attached)');
    t.is(onShelf.iterations, ref.iterations);
  });
}

test.serial("placement 'all' (every tensor buffer in the backend's pool): attached training equals stock 'cpu'", async (t) => {
  const dir = tempDir(t);
  tb.configureShelfBackend({ pmemPath: dir, sizeMb: 32, placement: 'all' });
  t.teardown(() => {
    tb.configureShelfBackend({ placement: 'named' });
    tb.closeBackendPool();
  });
  const ref = await train(t, 'cpu', 'conv', 'adam');
  const { s } = freshShelf(t);
  const all = await train(t, 'shelf', 'conv', 'adam', s);
  t.true(bitEqual(all.weights, ref.weights), `max |diff| ${maxDiff(all.weights, ref.weights)}`);
  t.true(bitEqual(all.slots, ref.slots));
  t.true(tb.shelfBackendStats().poolWrites > 0);
});

test.serial('under the shelf backend the weights and optimizer slots live in shelf memory during fit()', async (t) => {
  await tf.setBackend('shelf');
  const { s } = freshShelf(t);
  const model = buildModel(tfl, 'conv');
  const opt = makeOptimizer(tf, 'adam');
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  tb.attachModel(s, 'run', model);
  const { x, y } = makeData(tf, 'conv', 16);
  await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
  const backend = tb.shelfBackend();
  for (const w of model.weights) t.is(backend.residenceOf(w.read().dataId).residence, 'adopted', w.name);
  const slots = tb.optimizerSlots(opt);
  t.is(slots.length, 2 * model.trainableWeights.length + 2); // m and v per trainable weight, accBeta1, accBeta2
  for (const sl of slots) t.is(backend.residenceOf(sl.variable.dataId).residence, 'adopted', sl.field);
  // BatchNormalization's moving statistics are not trainable, and are attached too
  t.true(model.weights.some((w) => !w.trainable));
  t.is(internals(s).pool.names('run/var/').length, model.weights.length);
  tb.detachModel(s, 'run');
  tf.dispose([x, y]);
  model.dispose();
  opt.dispose();
});

test.serial("wasm: attached training equals stock wasm training; tensor counts flat", async (t) => {
  const ref = await train(t, 'wasm', 'dense', 'adam');
  const { s } = freshShelf(t);
  const attached = await train(t, 'wasm', 'dense', 'adam', s);
  t.true(bitEqual(attached.weights, ref.weights), `max |diff| ${maxDiff(attached.weights, ref.weights)}`);
  t.true(bitEqual(attached.slots, ref.slots));
  await tf.setBackend('cpu');
});
