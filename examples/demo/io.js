'use strict';
// Demo part 3: save and restore the same LayersModel on a shelf and in the file:// format, and compare the times.
//
// The file:// side: @tensorflow/tfjs-node (whose handler owns file://) cannot be installed here, so the same artifacts
// it writes — model.json (topology + weights manifest) and weights.bin — are written with fs and made durable with
// fsync (tfjs-node's own handler does not fsync: it would be faster and not crash-safe), and read back the same way.
// Both sides run under the 'shelf' backend; the shelf side loads with zero copies.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { say } = require('./util');

const REPS = 5;
const H1 = 1024;
const H2 = 1024;

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(f) {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function writeDurable(file, data) {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A save handler writing what tfjs-node's file:// writes: DIR/model.json + DIR/weights.bin, fsync'd. */
function fileSaver(tf, dir) {
  return tf.io.withSaveHandler(async (a) => {
    fs.mkdirSync(dir, { recursive: true });
    const weights = Buffer.concat((Array.isArray(a.weightData) ? a.weightData : [a.weightData]).map((b) => Buffer.from(b)));
    writeDurable(path.join(dir, 'weights.bin'), weights);
    const modelJson = {
      modelTopology: a.modelTopology, format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy,
      trainingConfig: a.trainingConfig, weightsManifest: [{ paths: ['./weights.bin'], weights: a.weightSpecs }],
    };
    writeDurable(path.join(dir, 'model.json'), JSON.stringify(modelJson));
    const d = fs.openSync(dir, 'r');
    fs.fsyncSync(d);
    fs.closeSync(d);
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.length } };
  });
}

/** A load handler reading them back, as tfjs-node's file:// does. */
function fileLoader(tf, dir) {
  return tf.io.fromMemory((() => {
    const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const w = fs.readFileSync(path.join(dir, 'weights.bin'));
    return {
      modelTopology: mj.modelTopology, trainingConfig: mj.trainingConfig, weightSpecs: mj.weightsManifest[0].weights,
      weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength),
    };
  })());
}

async function run() {
  const tf = require('@tensorflow/tfjs-core');
  const tfl = require('@tensorflow/tfjs-layers');
  const { shelfIO, attachModel, checkpoint } = require('@tsmm/tfjs-backend');
  const { shelf } = require('@tsmm/core');
  require('./mnist').quiet();
  await tf.setBackend('shelf');
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: H1, inputShape: [784], activation: 'relu' }));
  model.add(tfl.layers.dense({ units: H2, activation: 'relu' }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
  const n = model.countParams();
  const s = shelf('demo-io', { sizeMb: 160, forceNew: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-demo-file-'));
  const x = tf.randomUniform([32, 784], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32', 2), 10);
  const t = { shelfCkpt: [], fileCkpt: [], shelfSave: [], fileSave: [], shelfLoad: [], fileLoad: [] };
  try {
    // training state (weights + Adam moments): checkpoint() of the attached model vs model.save(includeOptimizer)
    attachModel(s, 'train', model);
    for (let i = 0; i < REPS; i++) {
      await model.trainOnBatch(x, y);
      t.shelfCkpt.push(await timed(() => checkpoint(s, 'train', { step: i + 1 })));
      t.fileCkpt.push(await timed(() => model.save(fileSaver(tf, path.join(dir, 'ckpt')), { includeOptimizer: true })));
    }
    // the model alone, as model.save / tf.loadLayersModel artifacts (one warm-up round first, not counted)
    for (let i = -1; i < REPS; i++) {
      t.shelfSave.push(await timed(() => model.save(shelfIO(s, 'model'))));
      t.fileSave.push(await timed(() => model.save(fileSaver(tf, path.join(dir, 'model')))));
      let m;
      t.shelfLoad.push(await timed(async () => { m = await tfl.loadLayersModel(shelfIO(s, 'model')); }));
      m.dispose();
      t.fileLoad.push(await timed(async () => { m = await tfl.loadLayersModel(fileLoader(tf, path.join(dir, 'model'))); }));
      m.dispose();
    }
    t.medium = s.stats();
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    s.close({ force: true });
    require('@tsmm/native').Pool.destroy(s.path); // 160 MiB reserved for the measurement: give it back
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const row = (what, a, b) => {
    const sx = median(a);
    const fx = median(b);
    const r = fx / sx;
    return `${what.padEnd(34)} shelf ${sx.toFixed(1).padStart(6)} ms   file:// ${fx.toFixed(1).padStart(6)} ms   ` +
      (r >= 1 ? `${r.toFixed(1)}× faster` : `${(1 / r).toFixed(1)}× slower`);
  };
  say(`784-${H1}-${H2}-10 MLP, ${n.toLocaleString('en-US')} weights (${(n * 4 / 2 ** 20).toFixed(1)} MiB) + Adam state; median of ${REPS}; ` +
    `file:// = tfjs-node's model.json + weights.bin, written with fs + fsync`);
  const st = t.medium;
  say(`the shelf is on ${st.medium === 'file' ? 'an ordinary file system' : st.medium}: persist = ${st.persistMethod}` +
    (st.medium === 'file' ? ' (a disk flush per commit, like fsync; on a DAX mount it is a cache-line flush)' : ''));
  say(row('checkpoint (weights + Adam state)', t.shelfCkpt, t.fileCkpt));
  say(row('model.save', t.shelfSave, t.fileSave));
  say(row('tf.loadLayersModel (restore)', t.shelfLoad, t.fileLoad));
  return 'io';
}

module.exports = { run, fileSaver, fileLoader };
