// bench/lib/tfjs.js -- what the tfjs rows (P1, P1b, P2, P3) share: loading tfjs + @tsmm/tfjs-backend + the tfjs-node
// file:// peer, checking that the tsmm APIs they measure exist, building dense models of a given size, moving weights
// between backends without letting tfjs migrate tensors.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { loadFileHandler } = require('./tfjs_node_peer');

let loaded = null;

/** tf (tfjs-core), tl (tfjs-layers), tb (@tsmm/tfjs-backend, registered), peer (tfjs-node file:// handler, registered). */
function loadTf(log = () => {}) {
  if (loaded) return loaded;
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  const tl = require('@tensorflow/tfjs-layers');
  const tb = require('@tsmm/tfjs-backend');
  const peer = loadFileHandler({ log });
  loaded = { tf, tl, tb, peer };
  return loaded;
}

/**
 * Null when @tsmm/tfjs-backend provides everything in `names` (exports) and, with `router`, a shelf:// save+load
 * router; else a sentence saying what is missing (the row is then reported as skipped).
 */
function missingApi(names, { router = false } = {}) {
  let tb;
  let tf;
  try {
    tf = require('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-backend-cpu');
    tb = require('@tsmm/tfjs-backend');
  } catch (e) {
    return `@tsmm/tfjs-backend does not load (${String(e.message).split('\n')[0]})`;
  }
  const gone = names.filter((n) => typeof tb[n] !== 'function');
  if (router) {
    const save = tf.io.getSaveHandlers('shelf:///tmp/x/y');
    const load = tf.io.getLoadHandlers('shelf:///tmp/x/y');
    if (save.length === 0 || load.length === 0) gone.push('shelf:// routers');
  }
  return gone.length ? `@tsmm/tfjs-backend lacks ${gone.join(', ')}` : null;
}

/**
 * A sequential stack of `layers` dense layers of `width` units over an input of `width` (float32 weights of
 * layers × (width² + width) × 4 bytes). Built under the active backend.
 */
function denseStack(tl, width, layers, { activation = 'relu', seed = 1 } = {}) {
  const model = tl.sequential();
  for (let i = 0; i < layers; i++) {
    model.add(tl.layers.dense({
      units: width, inputShape: i === 0 ? [width] : undefined, activation: i === layers - 1 ? 'linear' : activation,
      kernelInitializer: tl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: seed + i }),
      biasInitializer: tl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: seed + 100 + i }),
    }));
  }
  return model;
}

/** Bytes of float32 weights of a model. */
function weightBytes(model) {
  return model.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
}

/** The weights of `model` as plain typed-array copies (read under the backend that owns them). */
function weightValues(model) {
  return model.getWeights().map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, values: t.dataSync().slice() }));
}

/** Set `model`'s weights from weightValues() output, creating the tensors under the active backend. */
function setWeightValues(tf, model, vals) {
  const ts = vals.map((v) => tf.tensor(v.values, v.shape, v.dtype));
  model.setWeights(ts);
  ts.forEach((t) => t.dispose());
}

/** Largest |a-b| over two weightValues() lists (Infinity when shapes differ). */
function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i].values;
    const y = b[i].values;
    if (x.length !== y.length) return Infinity;
    for (let j = 0; j < x.length; j++) {
      const d = Math.abs(x[j] - y[j]);
      if (d > m || Number.isNaN(d)) m = Number.isNaN(d) ? Infinity : d;
    }
  }
  return m;
}

/** fsync both files tfjs-node's handler wrote into `dir` (model.json, weights.bin). */
async function fsyncSaved(dir) {
  for (const f of ['model.json', 'weights.bin']) {
    const fh = await fs.promises.open(path.join(dir, f), 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

module.exports = { loadTf, missingApi, denseStack, weightBytes, weightValues, setWeightValues, maxAbsDiff, fsyncSaved };
