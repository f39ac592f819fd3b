'use strict';
// The shelf:// IO handler: model.save('shelf://…'), tf.loadLayersModel('shelf://…'), shelfIO(s, key).
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const tb = require('@tsmm/tfjs-backend');
const { shelf, internals, ShelfError } = require('@tsmm/core');
const { tempDir, freshShelf, buildModel, makeData, weightsOf, bitEqual, quietTfjs } = require('./fixtures/50.helpers');

quietTfjs();
test.afterEach.always(() => tb.closeShelfUrls({ force: true }));

async function trainedModel(kind = 'dense-bn', optimizer = 'adam') {
  const m = buildModel(tfl, kind);
  m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const { x, y } = makeData(tf, kind, 16);
  await m.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  return m;
}

async function optimizerState(opt) {
  const ws = await opt.getWeights();
  const out = ws.map((w) => ({ name: w.name, values: Array.from(w.tensor.dataSync()) }));
  ws[0].tensor.dispose(); // the iterations scalar getWeights() makes
  return out;
}

for (const backend of ['shelf', 'cpu']) {
  test.serial(`${backend}: save and load round trip (topology, weights, training config, metadata, optimizer)`, async (t) => {
    await tf.setBackend(backend);
    const dir = tempDir(t);
    const m = await trainedModel();
    m.setUserDefinedMetadata({ dataset: 'synthetic', version: [1, 2] });
    const url = `shelf://${dir}/train/model-a`;
    const res = await m.save(url, { includeOptimizer: true });
    t.true(res.modelArtifactsInfo.weightDataBytes > 0);
    t.true(fs.existsSync(path.join(dir, 'train.map')) && fs.existsSync(path.join(dir, 'train.data')));

    const statsBefore = backend === 'shelf' ? tb.shelfBackendStats() : null;
    const m2 = await tfl.loadLayersModel(url);
    t.true(bitEqual(weightsOf(m2), weightsOf(m)));
    t.deepEqual(m2.getUserDefinedMetadata(), { dataset: 'synthetic', version: [1, 2] });
    t.is(m2.optimizer.getClassName(), 'Adam');
    t.is(m2.loss, 'categoricalCrossentropy');
    t.deepEqual(await optimizerState(m2.optimizer), await optimizerState(m.optimizer));
    const { x } = makeData(tf, 'dense-bn', 4);
    const [a, b] = [m.predict(x), m2.predict(x)];
    t.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
    tf.dispose([a, b, x]);
    if (backend === 'shelf') {
      // zero copy: every model weight's storage is the shelf memory
      const after = tb.shelfBackendStats();
      t.true(after.adoptions - statsBefore.adoptions >= m.weights.length);
      for (const w of m2.weights) t.is(tb.shelfBackend().residenceOf(w.read().dataId).residence, 'adopted', w.name);
    }
    m2.dispose();
    m2.optimizer.dispose();
    m.dispose();
    m.optimizer.dispose();
  });

  test.serial(`${backend}: tensor counts are flat across save and load`, async (t) => {
    await tf.setBackend(backend);
    const { s } = freshShelf(t);
    const m = await trainedModel('conv', 'sgd');
    await m.save(tb.shelfIO(s, 'warm')); // first use: tfjs' one-time allocations
    const base = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await m.save(tb.shelfIO(s, 'k'));
    t.is(tf.memory().numTensors, base, 'save');
    for (let i = 0; i < 3; i++) {
      const m2 = await tfl.loadLayersModel(tb.shelfIO(s, 'k'));
      m2.dispose();
    }
    t.is(tf.memory().numTensors, base, 'load + dispose');
    m.dispose();
  });
}

test.serial('each weight is its own entry; the manifest holds topology and specs', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t);
  const m = await trainedModel('dense', 'sgd');
  await m.save(tb.shelfIO(s, 'mnist'));
  const names = internals(s).pool.names('mnist');
  t.deepEqual(names, ['mnist', ...m.weights.map((_, i) => `mnist/w/${i}`)]);
  const manifest = s.mnist; // core reads it through the tfjs.model codec
  t.is(manifest.format, 'layers-model');
  t.is(manifest.weightSpecs.length, m.weights.length);
  t.truthy(manifest.modelTopology);
  m.weights.forEach((w, i) => {
    const e = internals(s).pool.get(`mnist/w/${i}`);
    t.is(e.length, w.shape.reduce((a, b) => a * b, 1) * 4);
    const stored = s[`mnist/w/${i}`]; // a tensor, through the tfjs.weight codec
    t.deepEqual(Array.from(stored.dataSync()), Array.from(w.read().dataSync()));
    stored.dispose();
  });
  m.dispose();
});

test.serial('load hands tfjs whole ArrayBuffers, one per weight (a typed-array view would be misread)', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t);
  const m = await trainedModel('dense', 'sgd');
  await m.save(tb.shelfIO(s, 'k'));
  const artifacts = await tb.shelfIO(s, 'k').load();
  t.true(Array.isArray(artifacts.weightData));
  artifacts.weightData.forEach((ab, i) => {
    t.true(ab instanceof ArrayBuffer);
    t.is(ab.byteLength, artifacts.weightSpecs[i].shape.reduce((a, b) => a * b, 1) * 4);
  });
  // what goes wrong with a view: CompositeArrayBuffer takes view.buffer and ignores byteOffset
  const backing = new ArrayBuffer(16);
  new Float32Array(backing).set([1, 2, 3, 4]);
  const view = new Float32Array(backing, 8, 2); // [3, 4]
  const decoded = tf.io.decodeWeights(view, [{ name: 'x', shape: [2], dtype: 'float32' }]);
  t.deepEqual(Array.from(decoded.x.dataSync()), [1, 2]); // not [3, 4]
  decoded.x.dispose();
  m.dispose();
});

test.serial('weights of every dtype, strings and quantized ones survive the handler', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t);
  const tensors = {
    f: tf.tensor2d([[1.5, -2], [3, 4]]),
    i: tf.tensor1d([7, -8, 9], 'int32'),
    b: tf.tensor1d([true, false, true], 'bool'),
    str: tf.tensor1d(['', 'héllo', 'x'.repeat(300)]),
    c: tf.complex([1, 2], [3, -4]),
    e: tf.zeros([0, 3]),
  };
  const { data, specs } = await tf.io.encodeWeights(tensors);
  // a uint8-quantized weight, appended by hand
  specs.push({ name: 'q', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.5 } });
  const weightData = tf.io.concatenateArrayBuffers([data, new Uint8Array([0, 2, 4]).buffer]);
  await tb.shelfIO(s, 'mixed').save({ modelTopology: { hello: 'world' }, weightSpecs: specs, weightData, format: 'test' });
  t.is(internals(s).pool.names('mixed/w/').length, specs.length);
  const art = await tb.shelfIO(s, 'mixed').load();
  t.deepEqual(art.modelTopology, { hello: 'world' });
  const out = tf.io.decodeWeights(art.weightData, art.weightSpecs);
  for (const k of Object.keys(tensors)) {
    t.is(out[k].dtype, tensors[k].dtype, k);
    t.deepEqual(out[k].shape, tensors[k].shape, k);
    t.deepEqual(await out[k].array(), await tensors[k].array(), k);
  }
  t.deepEqual(Array.from(out.q.dataSync()), [-1, 0, 1]);
  tf.dispose([Object.values(out), Object.values(tensors)]);
});

test.serial('saving over a key replaces the model atomically, in one batch', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t);
  const big = await trainedModel('dense-bn', 'sgd'); // 8 weights
  const small = await trainedModel('dense', 'sgd'); // 4 weights
  await big.save(tb.shelfIO(s, 'k'));
  const seq = internals(s).pool.stats().seq;
  await small.save(tb.shelfIO(s, 'k'));
  t.is(internals(s).pool.stats().seq, seq + 1); // one index batch
  t.deepEqual(internals(s).pool.names('k/w/'), ['k/w/0', 'k/w/1', 'k/w/2', 'k/w/3']); // the old weights 4..7 are gone
  const back = await tfl.loadLayersModel(tb.shelfIO(s, 'k'));
  t.true(bitEqual(weightsOf(back), weightsOf(small)));
  back.dispose();
  big.dispose();
  small.dispose();
});

test.serial('a save that fails midway leaves the previous model whole and loses no space', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t, { sizeMb: 1 });
  const small = await trainedModel('dense', 'sgd');
  await small.save(tb.shelfIO(s, 'k'));
  const used = internals(s).pool.stats().used;
  // a model too big for the 1 MiB shelf: the allocation of some weight fails after others were written
  const huge = tfl.sequential();
  huge.add(tfl.layers.dense({ units: 600, inputShape: [8] }));
  huge.add(tfl.layers.dense({ units: 600 }));
  huge.add(tfl.layers.dense({ units: 3 }));
  await t.throwsAsync(huge.save(tb.shelfIO(s, 'k')), { instanceOf: ShelfError, code: 'ESHELF_FULL', message: /"k" on shelf/ });
  const st = internals(s).pool.stats();
  t.is(st.used, used);
  t.is(st.reserved, 0);
  const back = await tfl.loadLayersModel(tb.shelfIO(s, 'k'));
  t.true(bitEqual(weightsOf(back), weightsOf(small)));
  back.dispose();
  huge.dispose();
  small.dispose();
});

test.serial('repeated saves over a key fit a shelf of twice the model: no view pins the replaced weights', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t, { sizeMb: 2 });
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 300, inputShape: [300] })); // 361 KB of weights
  const w = weightsOf(m);
  // each save writes the new weights before the old ones are freed; nothing may keep the old ones busy
  for (let i = 0; i < 12; i++) await m.save(tb.shelfIO(s, 'k'));
  t.is(internals(s).pool.stats().reserved, 0);
  const back = await tfl.loadLayersModel(tb.shelfIO(s, 'k'));
  t.true(bitEqual(weightsOf(back), w));
  back.dispose();
  m.dispose();
});

test.serial("shelf: a loaded model's initial weights are never made (they would be replaced unread)", async (t) => {
  await tf.setBackend('shelf');
  const { s } = freshShelf(t);
  const m = await trainedModel('dense-bn', 'sgd');
  await m.save(tb.shelfIO(s, 'k'));
  const before = tb.shelfPlacementStats();
  const back = await tfl.loadLayersModel(tb.shelfIO(s, 'k'));
  const after = tb.shelfPlacementStats();
  t.true(after.lazyZeros - before.lazyZeros >= m.weights.length, 'every weight was built from lazy zeros');
  t.is(after.lazyZerosMade - before.lazyZerosMade, 0, 'and none of them was ever made');
  t.true(bitEqual(weightsOf(back), weightsOf(m)));
  const { x } = makeData(tf, 'dense-bn', 4);
  const [a, b] = [m.predict(x), back.predict(x)];
  t.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  tf.dispose([a, b, x]);
  // the replacement initializer is still tfjs-layers' Zeros to the outside: same class name in saved topologies
  const json = JSON.stringify(back.toJSON(null, false));
  t.true(json.includes('"class_name":"Zeros"'));
  t.false(json.includes('Custom>'));
  // a model built (not loaded) under 'shelf' reads its zero-initialised weights as zeros
  const fresh = tfl.sequential();
  fresh.add(tfl.layers.dense({ units: 4, inputShape: [2], kernelInitializer: 'zeros' }));
  t.deepEqual(Array.from(fresh.weights[0].read().dataSync()), new Array(8).fill(0));
  const y = fresh.predict(tf.ones([1, 2]));
  t.deepEqual(Array.from(y.dataSync()), [0, 0, 0, 0]);
  tf.dispose(y);
  fresh.dispose();
  back.dispose();
  m.dispose();
});

test.serial('shelf: a shelf opened by URL keeps its weight views across loads; saving over the key lets them go', async (t) => {
  require('node:v8').setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  const collect = async () => {
    // twice: a WeakRef's target survives the job that made it; the engine's view finalizers run in an immediate
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    await new Promise((r) => setImmediate(r));
  };
  await tf.setBackend('shelf');
  const dir = tempDir(t);
  const url = `shelf://${dir}/byurl/k`;
  const m = await trainedModel('dense', 'sgd');
  await m.save(url);
  const bufferOf = (model) => tb.shelfBackend().borrowValues(model.weights[0].read().dataId).buffer;
  const first = await tfl.loadLayersModel(url);
  const b1 = new WeakRef(bufferOf(first)); // weak: the test must not keep the view alive itself
  first.dispose();
  await collect(); // no tensor references the views now
  const second = await tfl.loadLayersModel(url);
  t.is(bufferOf(second), b1.deref(), 'the same view: no new external memory for V8 to collect');
  t.true(bitEqual(weightsOf(second), weightsOf(m)));
  second.dispose();
  // a new model under the same key: new extents, new values, the old views no longer kept
  const other = await trainedModel('dense', 'adam');
  await other.save(url);
  await collect();
  t.is(b1.deref(), undefined, 'the replaced weights are no longer pinned by a kept view');
  const third = await tfl.loadLayersModel(url);
  t.true(bitEqual(weightsOf(third), weightsOf(other)));
  const b3 = new WeakRef(bufferOf(third));
  third.dispose();
  tb.closeShelfUrls(); // closing drops the kept views; the engine detaches them
  t.is(b3.deref()?.byteLength ?? 0, 0, 'views of a closed shelf are detached (or gone)');
  other.dispose();
  m.dispose();
});

test.serial('URLs: absolute (three slashes), relative, the default directory, keys with slashes', async (t) => {
  await tf.setBackend('cpu');
  const dir = tempDir(t);
  const m = await trainedModel('dense', 'sgd');
  const w = weightsOf(m);
  // absolute
  await m.save(`shelf://${dir}/abs/one`);
  t.true(fs.existsSync(path.join(dir, 'abs.map')));
  t.deepEqual(tb.parseShelfUrl(`shelf://${dir}/abs/one`), { url: `shelf://${dir}/abs/one`, pmemPath: dir, name: 'abs', key: 'one' });
  // relative to the working directory
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(() => process.chdir(cwd));
  await m.save('shelf://runs/rel/two');
  t.true(fs.existsSync(path.join(dir, 'runs', 'rel.map')));
  let back = await tfl.loadLayersModel('shelf://runs/rel/two');
  t.true(bitEqual(weightsOf(back), w));
  back.dispose();
  // shelf://<shelf>/<key>: core's default directory ($TSMM_PMEM_PATH)
  const saved = process.env.TSMM_PMEM_PATH;
  process.env.TSMM_PMEM_PATH = path.join(dir, 'default');
  fs.mkdirSync(process.env.TSMM_PMEM_PATH);
  t.teardown(() => { if (saved === undefined) delete process.env.TSMM_PMEM_PATH; else process.env.TSMM_PMEM_PATH = saved; });
  await m.save('shelf://dflt/three');
  t.true(fs.existsSync(path.join(dir, 'default', 'dflt.map')));
  t.is(tb.parseShelfUrl('shelf://dflt/three').pmemPath, undefined);
  // a key with a slash is percent-encoded in the URL; the last segment is always the key
  tb.closeShelfUrls();
  await m.save(`shelf://${dir}/abs/nested%2Ffour`);
  t.false(fs.existsSync(path.join(dir, 'abs', 'nested.map')));
  tb.closeShelfUrls();
  const s = shelf('abs', { pmemPath: dir });
  t.true(s.has('nested/four') && s.has('one'));
  back = await tfl.loadLayersModel(tb.shelfIO(s, 'nested/four'));
  t.true(bitEqual(weightsOf(back), w));
  back.dispose();
  // a URL naming a shelf that is open in this process (here, through shelfIO) uses that handle: no ESHELF_LOCKED
  back = await tfl.loadLayersModel(`shelf://${dir}/abs/one`);
  t.true(bitEqual(weightsOf(back), w));
  back.dispose();
  await m.save(`shelf://${dir}/abs/five`);
  t.true(s.has('five'));
  s.close();
  m.dispose();
});

test.serial('the router returns null for URLs it does not own', (t) => {
  for (const u of ['file://x/y', 'indexeddb://m', 'localstorage://m', 'http://h/model.json', 'shelf:/x/y', 'SHELF://a/b']) {
    t.is(tb.shelfRouter(u), null, u);
  }
  t.is(tb.shelfRouter(['shelf://a/b', 'shelf://a/c']), null);
  t.true(tb.shelfRouter('shelf://a/b') instanceof tb.ShelfIOHandler);
  t.is(tb.ShelfIOHandler.URL_SCHEME, 'shelf://');
  t.is(tb.URL_SCHEME, 'shelf://');
  // the routers are registered once: tfjs finds exactly one handler per shelf:// URL
  t.is(tf.io.getSaveHandlers('shelf://a/b').length, 1);
  t.is(tf.io.getLoadHandlers('shelf://a/b').length, 1);
  tb.registerShelfRouters();
  t.is(tf.io.getLoadHandlers('shelf://a/b').length, 1);
});

test.serial('errors name the path', async (t) => {
  await tf.setBackend('cpu');
  const dir = tempDir(t);
  const m = await trainedModel('dense', 'sgd');
  await m.save(`shelf://${dir}/sh/model`);
  tb.closeShelfUrls();
  await t.throwsAsync(tfl.loadLayersModel(`shelf://${dir}/sh/nothere`), {
    instanceOf: ShelfError, code: 'ESHELF_NOT_FOUND', message: new RegExp(`shelf://${dir}/sh/nothere: no model "nothere" on shelf ${dir}/sh`),
  });
  await t.throwsAsync(tfl.loadLayersModel(`shelf://${dir}/nosuch/model`), {
    code: 'ESHELF_NOT_FOUND', message: new RegExp(`shelf://${dir}/nosuch/model: no shelf ${dir}/nosuch`),
  });
  t.throws(() => tb.shelfRouter('shelf://onlyone'), { code: 'ESHELF_NAME', message: /shelf:\/\/onlyone/ });
  t.throws(() => tb.shelfRouter('shelf:///a/../b/c'), { code: 'ESHELF_NAME' });
  const s = shelf('sh', { pmemPath: dir });
  s.notAModel = 42;
  await t.throwsAsync(tfl.loadLayersModel(tb.shelfIO(s, 'notAModel')), { code: 'ESHELF_TYPE', message: /"notAModel" on shelf .*sh is a scalar entry, not a saved model/ });
  await t.throwsAsync(m.save(tb.shelfIO(s, 'notAModel')), { code: 'ESHELF_EXISTS', message: /"notAModel" on shelf .*sh is a scalar entry/ });
  t.throws(() => tb.shelfIO(s, '.x'), { code: 'ESHELF_NAME' });
  t.throws(() => tb.shelfIO(s, ''), { instanceOf: TypeError });
  s.close();
  m.dispose();
});

test.serial('shelf: loading from a read-only shelf is zero-copy; the shelf closes once the model is disposed', async (t) => {
  await tf.setBackend('shelf');
  const dir = tempDir(t);
  const s = shelf('ro', { sizeMb: 8, pmemPath: dir });
  const m = await trainedModel('dense', 'sgd');
  await m.save(tb.shelfIO(s, 'k'));
  s.close();
  const r = shelf('ro', { pmemPath: dir, readOnly: true });
  t.teardown(() => r.close({ force: true }));
  const back = await tfl.loadLayersModel(tb.shelfIO(r, 'k'));
  t.true(bitEqual(weightsOf(back), weightsOf(m)));
  for (const w of back.weights) t.is(tb.shelfBackend().residenceOf(w.read().dataId).residence, 'adopted');
  t.throws(() => r.close(), { code: 'ESHELF_BUSY' });
  await t.throwsAsync(m.save(tb.shelfIO(r, 'k2')), { code: 'ESHELF_READONLY' });
  back.dispose();
  t.notThrows(() => r.close());
  m.dispose();
});
