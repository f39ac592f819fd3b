'use strict';
// Persistent variables: s.variable(name, initialValue?, trainable?), under 'shelf' (zero-copy) and 'cpu' (mirror).
const test = require('ava');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-layers'); // registers tfjs-core's gradients in Node
const tb = require('@tsmm/tfjs-backend');
const { shelf, internals, ShelfError } = require('@tsmm/core');
const { freshShelf, tempDir, quietTfjs } = require('./fixtures/50.helpers');

quietTfjs();
const BACKENDS = ['shelf', 'cpu'];
const CHILD = path.join(__dirname, 'fixtures', '50.variable-child.js');

/** The bytes the shelf holds for variable `name` (its one buffer), as the dtype's typed array (a copy). */
function shelfBytes(s, name, Ctor) {
  const e = internals(s).pool.get(name);
  return new Ctor(internals(s).pool.view(e.offset, e.length).slice(0));
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: create, assign, read back; assign writes into shelf memory`, async (t) => {
    await tf.setBackend(backend);
    const { s } = freshShelf(t);
    const before = tf.memory().numTensors;
    const init = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const v = s.variable('w', init);
    init.dispose();
    t.true(v instanceof tf.Variable);
    t.deepEqual(v.shape, [2, 3]);
    t.is(v.dtype, 'float32');
    t.true(v.trainable);
    t.true(tb.isShelfVariable(v));
    t.deepEqual(Array.from(shelfBytes(s, 'w', Float32Array)), [1, 2, 3, 4, 5, 6]);
    const id = v.dataId;
    tf.tidy(() => v.assign(tf.mul(v, 2)));
    t.deepEqual(Array.from(v.dataSync()), [2, 4, 6, 8, 10, 12]);
    t.deepEqual(Array.from(shelfBytes(s, 'w', Float32Array)), [2, 4, 6, 8, 10, 12]);
    if (backend === 'shelf') {
      // zero-copy: the storage did not move, and it is shelf memory
      t.is(v.dataId, id);
      t.is(tb.shelfBackend().residenceOf(v.dataId).residence, 'adopted');
    }
    // the same variable from s.variable(name) and from s.name
    t.is(s.variable('w'), v);
    t.is(s.w, v);
    t.deepEqual(Object.keys(s), ['w']);
    v.dispose();
    t.is(tf.memory().numTensors, before);
  });

  test.serial(`${backend}: re-opening returns the last value (same process)`, async (t) => {
    await tf.setBackend(backend);
    const dir = tempDir(t);
    let s = shelf('r', { sizeMb: 8, pmemPath: dir });
    const v = s.variable('w', tf.tensor1d([1, 2, 3]));
    v.assign(tf.tensor1d([7, 8, 9]));
    v.dispose();
    s.close();
    s = shelf('r', { pmemPath: dir });
    t.teardown(() => s.close({ force: true }));
    const w = s.variable('w', tf.tensor1d([0, 0, 0])); // initial value ignored: the entry exists
    t.deepEqual(Array.from(w.dataSync()), [7, 8, 9]);
    w.dispose();
  });

  test.serial(`${backend}: re-opening in a new process returns the last value (killed writer, no close)`, async (t) => {
    const dir = tempDir(t);
    const env = { ...process.env, TSMM_DEBUG: '' };
    t.is(execFileSync(process.execPath, [CHILD, dir, backend, 'write'], { env }).toString().trim(), 'written');
    const out = JSON.parse(execFileSync(process.execPath, [CHILD, dir, backend === 'shelf' ? 'cpu' : 'shelf', 'read'], { env }).toString());
    t.deepEqual(out.w, { values: [0.5, -1.5, Math.fround(1e-30), 3.25], shape: [2, 2], dtype: 'float32', trainable: true });
    t.deepEqual(out.n, { values: [-7, 8, 2147483647], shape: [3], dtype: 'int32', trainable: false });
    t.deepEqual(out.b, { values: [0, 1], shape: [2], dtype: 'bool', trainable: true });
  });

  test.serial(`${backend}: variables train with an optimizer and land on the shelf`, async (t) => {
    await tf.setBackend(backend);
    const { s } = freshShelf(t);
    const w = s.variable('w', tf.tensor1d([3, -2]));
    const opt = tf.train.sgd(0.25);
    for (let i = 0; i < 5; i++) opt.minimize(() => tf.sum(tf.square(w)));
    // w <- w - 0.25 * 2w = w / 2, five times
    t.deepEqual(Array.from(w.dataSync()), [3 / 32, -2 / 32]);
    t.deepEqual(Array.from(shelfBytes(s, 'w', Float32Array)), [3 / 32, -2 / 32]);
    opt.dispose();
    w.dispose();
  });

  test.serial(`${backend}: errors`, async (t) => {
    await tf.setBackend(backend);
    const { s } = freshShelf(t);
    t.throws(() => s.variable('missing'), { instanceOf: ShelfError, code: 'ESHELF_NOT_FOUND', message: /"missing" on shelf .*\/s/ });
    t.throws(() => s.variable('str', tf.tensor1d(['a'])), { code: 'ESHELF_TYPE', message: /dtype string/ });
    t.throws(() => s.variable('', tf.scalar(1)), { instanceOf: TypeError });
    t.throws(() => s.variable('x', [1, 2]), { instanceOf: TypeError, message: /tf\.Tensor/ });
    t.throws(() => s.variable('x', tf.scalar(1), 'yes'), { instanceOf: TypeError, message: /trainable/ });
    t.throws(() => s.variable('.hidden', tf.scalar(1)), { code: 'ESHELF_NAME' });
    t.throws(() => s.variable('close', tf.scalar(1)), { code: 'ESHELF_NAME', message: /close/ });
    t.throws(() => s.variable('variable', tf.scalar(1)), { code: 'ESHELF_NAME' });
    const v = s.variable('v', tf.tensor1d([1, 2]));
    t.throws(() => s.variable('v', tf.tensor1d([1, 2, 3])), { code: 'ESHELF_TYPE', message: /float32\[2\].*float32\[3\]/ });
    t.throws(() => v.assign(tf.tensor1d([1, 2, 3])), { message: /shape of the new value/ });
    t.throws(() => v.assign(tf.tensor1d([1, 2], 'int32')), { message: /dtype of the new value/ });
    s.arr = new Float64Array(3);
    t.throws(() => s.variable('arr', tf.tensor1d([1, 2, 3])), { code: 'ESHELF_TYPE', message: /"arr" on shelf .* is a typed entry|is a .* entry, not a persistent tfjs variable/ });
    v.dispose();
  });

  test.serial(`${backend}: erase, then create again under the same name`, async (t) => {
    await tf.setBackend(backend);
    const { s } = freshShelf(t);
    const v = s.variable('w', tf.tensor1d([1, 2]));
    s.erase('w');
    t.false(s.has('w'));
    const w = s.variable('w', tf.tensor1d([5, 6]));
    t.not(w, v);
    t.deepEqual(Array.from(w.dataSync()), [5, 6]);
    t.deepEqual(Array.from(v.dataSync()), [1, 2]); // the old variable lives on, in memory
    t.false(tb.isShelfVariable(v));
    v.dispose();
    w.dispose();
  });
}

test.serial('shelf: close() refuses while a zero-copy variable is alive; force moves it to memory', async (t) => {
  await tf.setBackend('shelf');
  const dir = tempDir(t);
  const s = shelf('c', { sizeMb: 8, pmemPath: dir });
  const v = s.variable('w', tf.tensor1d([1, 2, 3]));
  t.throws(() => s.close(), { instanceOf: ShelfError, code: 'ESHELF_BUSY' });
  t.false(s.closed);
  s.close({ force: true });
  t.true(s.closed);
  t.false(tb.isShelfVariable(v));
  t.deepEqual(Array.from(v.dataSync()), [1, 2, 3]);
  v.assign(tf.tensor1d([4, 5, 6])); // stock assign from now on
  t.deepEqual(Array.from(v.dataSync()), [4, 5, 6]);
  t.not(tb.shelfBackend().residenceOf(v.dataId).residence, 'adopted');
  v.dispose();
  // and after disposing, a plain close works
  const s2 = shelf('c', { pmemPath: dir });
  const w = s2.variable('w');
  t.deepEqual(Array.from(w.dataSync()), [1, 2, 3]);
  w.dispose();
  t.notThrows(() => s2.close());
});

test.serial('cpu: close() detaches mirror-mode variables, which keep working in memory', async (t) => {
  await tf.setBackend('cpu');
  const dir = tempDir(t);
  const s = shelf('c', { sizeMb: 8, pmemPath: dir });
  const v = s.variable('w', tf.tensor1d([1, 2, 3]));
  s.close();
  t.false(tb.isShelfVariable(v));
  v.assign(tf.tensor1d([4, 5, 6]));
  t.deepEqual(Array.from(v.dataSync()), [4, 5, 6]);
  v.dispose();
  const s2 = shelf('c', { pmemPath: dir });
  t.teardown(() => s2.close({ force: true }));
  const w = s2.variable('w');
  t.deepEqual(Array.from(w.dataSync()), [1, 2, 3]); // the assign after close did not reach the shelf
  w.dispose();
});

test.serial('tensor counts are flat across assigns and re-opens', async (t) => {
  for (const backend of BACKENDS) {
    await tf.setBackend(backend);
    const { s } = freshShelf(t, {}, `flat-${backend}`);
    const before = tf.memory().numTensors;
    const z = tf.zeros([4, 4]);
    const v = s.variable('w', z);
    z.dispose();
    const withVar = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) tf.tidy(() => v.assign(tf.add(v, 1)));
    t.is(tf.memory().numTensors, withVar, backend);
    t.is(v.dataSync()[0], 20);
    v.dispose();
    t.is(tf.memory().numTensors, before, backend);
  }
});

for (const backend of BACKENDS) {
  test.serial(`${backend}: a read-only shelf gives its variables; assigning one is ESHELF_READONLY`, async (t) => {
    await tf.setBackend(backend);
    const dir = tempDir(t);
    const s = shelf('ro', { sizeMb: 8, pmemPath: dir });
    s.variable('w', tf.tensor1d([1, 2])).dispose();
    s.close();
    const r = shelf('ro', { pmemPath: dir, readOnly: true });
    t.teardown(() => r.close({ force: true }));
    const w = r.variable('w');
    t.deepEqual(Array.from(w.dataSync()), [1, 2]);
    t.throws(() => w.assign(tf.tensor1d([3, 4])), { instanceOf: ShelfError, code: 'ESHELF_READONLY', message: /"w" on shelf .*ro/ });
    t.deepEqual(Array.from(w.dataSync()), [1, 2]);
    t.throws(() => r.variable('new', tf.scalar(1)), { code: 'ESHELF_READONLY' });
    t.throws(() => tb.attachVariables(r, 'p', [w]), { code: 'ESHELF_READONLY' });
    w.dispose();
  });
}
