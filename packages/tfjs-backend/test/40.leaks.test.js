'use strict';
// Tensor and dataId counts stay flat across repeated ops, gradients and shelf put/get, under 'shelf' (both
// placements), 'cpu' and 'wasm'.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-layers'); // gradients
const wasm = require('@tensorflow/tfjs-backend-wasm');
const sb = require('@tsmm/tfjs-backend');
const { shelf } = require('@tsmm/core');

wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
sb.configureShelfBackend({ pmemPath: dir, sizeMb: 16 });
test.after.always(() => {
  sb.closeBackendPool();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The engine's and the backend's own counts, and the allocations in the 'shelf' backend's pool. */
function counts() {
  const m = tf.memory();
  return {
    numTensors: m.numTensors,
    numDataBuffers: m.numDataBuffers,
    backendDataIds: tf.backend().numDataIds(),
    poolBlocks: sb.backendPoolStats().liveBlocks,
  };
}

/** Run `step` a few times to warm up, then assert every later run leaves the counts where they were. */
async function assertFlat(t, label, step, rounds = 5) {
  await step(); // warm-up: lazily created state (e.g. optimizer slots) is allowed once
  const start = counts();
  for (let i = 0; i < rounds; i++) {
    await step();
    t.deepEqual(counts(), start, `${label}, round ${i + 1}`);
  }
}

function opsStep() {
  // tidy'd ops, explicit dispose, gradients, complex numbers, strings, in-place-looking ops (slice/reshape)
  tf.tidy(() => {
    const x = tf.randomNormal([16, 8], 0, 1, 'float32', 7);
    const y = tf.matMul(x, x, true, false);
    const g = tf.grad(v => tf.sum(tf.relu(tf.matMul(v, v, false, true))))(x);
    if (tf.getBackend() !== 'wasm') tf.abs(tf.complex(x, tf.neg(x))); // wasm has no complex64
    tf.reshape(tf.slice(x, [2, 1], [4, 3]), [12]);
    tf.argMax(g, 1);
    tf.tensor(['a', 'bb', 'ccc']);
    tf.cast(tf.greater(x, 0), 'int32');
    return null;
  });
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.add(a, 1);
  b.dataSync();
  a.dispose();
  b.dispose();
}

function shelfStep(s) {
  return () => {
    const inputs = tf.tidy(() => [
      tf.reshape(tf.linspace(0, 1, 64), [8, 8]),
      tf.tensor([1, 2, 3], [3], 'int32'),
      tf.tensor([true, false], [2], 'bool'),
      tf.getBackend() === 'wasm' ? tf.scalar(5) : tf.complex([1, 2], [3, 4]), // wasm has no complex64
      tf.tensor(['x', 'yy'], [2], 'string'),
    ]);
    inputs.forEach((v, i) => {
      s[`v${i}`] = v;
      const back = s[`v${i}`];
      if (back.dtype !== 'string') tf.tidy(() => void tf.sum(tf.cast(back, 'float32')));
      back.dataSync();
      back.dispose();
      s.erase(`v${i}`);
    });
    tf.dispose(inputs);
  };
}

const backends = [
  ['cpu', null],
  ['wasm', null],
  ['shelf', 'named'],
  ['shelf', 'all'],
];

for (const [name, placement] of backends) {
  const label = placement ? `${name}/${placement}` : name;

  test.serial(`${label}: counts are flat across repeated ops`, async t => {
    if (placement) sb.configureShelfBackend({ placement });
    t.true(await tf.setBackend(name));
    await assertFlat(t, label, opsStep);
  });

  test.serial(`${label}: counts are flat across fit()`, async t => {
    if (placement) sb.configureShelfBackend({ placement });
    await tf.setBackend(name);
    const tfl = require('@tensorflow/tfjs-layers');
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ units: 4, inputShape: [3], activation: 'relu' }), tfl.layers.dense({ units: 1 })],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    const xs = tf.randomUniform([16, 3], 0, 1, 'float32', 1);
    const ys = tf.randomUniform([16, 1], 0, 1, 'float32', 2);
    await assertFlat(t, `${label} fit`, async () => {
      await model.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
    });
    model.optimizer.dispose();
    model.dispose();
    tf.dispose([xs, ys]);
  });

  test.serial(`${label}: counts are flat across shelf put/get`, async t => {
    if (placement) sb.configureShelfBackend({ placement });
    await tf.setBackend(name);
    const s = shelf(`leaks-${name}-${placement || 'x'}`, { sizeMb: 16, pmemPath: dir, forceNew: true });
    try {
      await assertFlat(t, `${label} put/get`, shelfStep(s));
      t.is(sb.liveShelfTensorBuffers(s), 0);
    } finally {
      s.close();
    }
  });
}

test.serial("shelf/all: every pool buffer is given back when tensors are disposed", async t => {
  sb.configureShelfBackend({ placement: 'all' });
  await tf.setBackend('shelf');
  const live = sb.backendPoolStats().liveBlocks;
  const x = tf.ones([256, 256]);
  const y = tf.tidy(() => tf.relu(tf.matMul(x, x)));
  t.is(sb.backendPoolStats().liveBlocks, live + 2);
  tf.dispose([x, y]);
  t.is(sb.backendPoolStats().liveBlocks, live);
  sb.configureShelfBackend({ placement: 'named' });
});
