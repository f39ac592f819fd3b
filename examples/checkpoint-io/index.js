'use strict';
// Model checkpoints with shelf:// next to file://: the same LayersModel saved and loaded both ways.
//   node examples/checkpoint-io/index.js
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const { closeShelfUrls } = require('@tsmm/tfjs-backend'); // registers 'shelf' and the shelf:// save/load routers
const { shelf } = require('@tsmm/core');
const { fileSaver, fileLoader } = require('../demo/io');
require('../demo/mnist').quiet();

const line = (what, t, note = '') => console.log(`${what.padEnd(48)} ${t.toFixed(1).padStart(6)} ms  ${note}`);
const ms = async (f) => { const t0 = process.hrtime.bigint(); const r = await f(); return [Number(process.hrtime.bigint() - t0) / 1e6, r]; };

(async () => {
  await tf.setBackend('shelf');
  const dir = process.env.TSMM_PMEM_PATH || path.join(os.tmpdir(), 'tsmm-checkpoint-io'); // the same place every run
  fs.mkdirSync(dir, { recursive: true });
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: 256, inputShape: [784], activation: 'relu' }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });

  // shelf://<pmemPath>/<shelfName>/<key>; an absolute pmemPath takes three slashes. The shelf is created if needed.
  const url = `shelf://${dir}/models/mnist-mlp`;
  console.log(`url = '${url}'`);
  const [saveShelf] = await ms(() => model.save(url));
  line(`await model.save('shelf://…/models/mnist-mlp')`, saveShelf);
  const [saveFile] = await ms(() => model.save(fileSaver(tf, path.join(dir, 'file-model'))));
  line('await model.save(file:// equivalent)', saveFile, "(tfjs-node's model.json + weights.bin, fsync'd)");

  const [loadShelf, m1] = await ms(() => tfl.loadLayersModel(url));
  line("await tf.loadLayersModel('shelf://…')", loadShelf, '(weights are views of shelf memory: no copy)');
  const [loadFile, m2] = await ms(() => tfl.loadLayersModel(fileLoader(tf, path.join(dir, 'file-model'))));
  line('await tf.loadLayersModel(file:// equivalent)', loadFile);

  const x = tf.randomUniform([4, 784], 0, 1, 'float32', 7);
  const same = tf.tidy(() => tf.max(tf.abs(tf.sub(m1.predict(x), m2.predict(x)))).dataSync()[0]);
  console.log(`both models predict the same: max |diff| = ${same}`);
  tf.dispose([x]);
  m1.dispose();
  m2.dispose();

  // Saving over a key is atomic: a crash during the save leaves the previous version whole.
  await model.save(url);
  closeShelfUrls(); // shelves opened by URL stay open for zero-copy loads until closed
  const s = shelf('models', { pmemPath: dir, readOnly: true });
  console.log(`on the shelf: ${s.items.join(', ')}`);
  s.close();
  console.log(`inspect it: npx tsmm ls ${path.join(dir, 'models')}`);
  model.dispose();
})().catch((e) => {
  console.error((e && e.stack) || e);
  process.exitCode = 1;
});
