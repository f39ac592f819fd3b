'use strict';
// checkpoint() and attach*(): layout on the shelf, what a re-attach loads, custom loops, and every error path.
const test = require('ava');
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const tb = require('@tsmm/tfjs-backend');
const { shelf, internals, ShelfError } = require('@tsmm/core');
const { freshShelf, tempDir, buildModel, makeData, makeOptimizer, trainSteps, weightsOf, bitEqual, quietTfjs } = require('./fixtures/50.helpers');

quietTfjs();

function compiled(kind = 'dense-bn', optimizer = 'adam') {
  const model = buildModel(tfl, kind);
  const opt = makeOptimizer(tf, optimizer);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  return { model, opt };
}

for (const backend of ['shelf', 'cpu']) {
  test.serial(`${backend}: layout, flips, and what a re-attach in the same process loads`, async (t) => {
    await tf.setBackend(backend);
    const { s } = freshShelf(t);
    const data = makeData(tf, 'dense-bn', 32);
    const { model, opt } = compiled();
    const r = tb.attachModel(s, 'run', model);
    t.false(r.resumed);
    t.is(r.step, 0);
    const pool = internals(s).pool;
    // before the first step: weights, and Adam's accBeta1/accBeta2 (the moments appear at the first step)
    t.deepEqual(pool.names('run/opt/'), ['run/opt/accBeta1', 'run/opt/accBeta2']);
    t.is(pool.names('run/var/').length, model.weights.length);
    await trainSteps(tf, model, data, 0, 3);
    t.is(pool.names('run/opt/').length, 2, 'new slots are committed by the next checkpoint, not before');
    t.true(pool.stats().reserved > 0);
    const seq = pool.stats().seq;
    const st = tb.checkpoint(s, 'run', { step: 3, extra: { epoch: 0, note: 'é' } });
    t.is(st.seq, seq + 1, 'one index batch');
    t.is(pool.stats().reserved, 0);
    t.is(pool.names('run/opt/').length, 2 + 2 * model.trainableWeights.length);
    const state = s['run/state'];
    t.is(state.step, 3);
    t.deepEqual(state.extra, { epoch: 0, note: 'é' });
    t.is(state.optimizer.className, 'Adam');
    t.is(state.optimizer.iterations, 3);
    const atCkpt = weightsOf(model);
    // committed values read back through core: a copy of the committed buffer
    const w0 = s['run/var/0'];
    t.deepEqual(Array.from(w0.dataSync()), atCkpt[0]);
    w0.dispose();
    // more training, then a re-attach without checkpoint: the model goes back to the checkpoint
    await trainSteps(tf, model, data, 3, 6);
    t.false(bitEqual(weightsOf(model), atCkpt));
    const committed = s['run/var/0'];
    t.deepEqual(Array.from(committed.dataSync()), atCkpt[0], 'training never writes the committed buffer');
    committed.dispose();
    const again = tb.attachModel(s, 'run', model);
    t.true(again.resumed);
    t.is(again.step, 3);
    t.deepEqual(again.extra, { epoch: 0, note: 'é' });
    t.true(bitEqual(weightsOf(model), atCkpt));
    t.is(opt.iterations, 3);
    tb.detachModel(s, 'run');
    tf.dispose([data.x, data.y]);
    model.dispose();
    opt.dispose();
  });
}

test.serial('attachVariables: a custom training loop resumes bit-exactly', async (t) => {
  await tf.setBackend('shelf');
  const dir = tempDir(t);
  const xs = tf.randomUniform([16, 3], -1, 1, 'float32', 5);
  const ys = tf.randomUniform([16, 1], -1, 1, 'float32', 6);
  const loss = (w, b) => () => tf.losses.meanSquaredError(ys, tf.add(tf.matMul(xs, w), b));
  const make = () => ({ w: tf.variable(tf.randomUniform([3, 1], -1, 1, 'float32', 7)), b: tf.variable(tf.zeros([1])), opt: tf.train.rmsprop(0.05, 0.9, 0.3) });
  const ref = make();
  for (let i = 0; i < 12; i++) ref.opt.minimize(loss(ref.w, ref.b));
  let s = shelf('loop', { sizeMb: 8, pmemPath: dir });
  const a = make();
  tb.attachVariables(s, 'lin', [a.w, a.b], { optimizer: a.opt });
  for (let i = 0; i < 5; i++) a.opt.minimize(loss(a.w, a.b));
  tb.checkpoint(s, 'lin', { step: 5 });
  a.opt.minimize(loss(a.w, a.b)); // lost
  s.close({ force: true });
  s = shelf('loop', { pmemPath: dir });
  t.teardown(() => s.close({ force: true }));
  const b = make();
  const r = tb.attachVariables(s, 'lin', [b.w, b.b], { optimizer: b.opt });
  t.true(r.resumed);
  for (let i = r.step; i < 12; i++) b.opt.minimize(loss(b.w, b.b));
  t.true(bitEqual([Array.from(b.w.dataSync()), Array.from(b.b.dataSync())], [Array.from(ref.w.dataSync()), Array.from(ref.b.dataSync())]));
  tb.detach(s, 'lin');
});

test.serial('attach without an optimizer keeps the stored optimizer state for a later attach', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t);
  const data = makeData(tf, 'dense', 16);
  const { model, opt } = compiled('dense', 'momentum');
  tb.attachModel(s, 'run', model);
  await trainSteps(tf, model, data, 0, 2);
  tb.checkpoint(s, 'run', { step: 2 });
  const slots = internals(s).pool.names('run/opt/');
  t.is(slots.length, model.trainableWeights.length);
  const bare = buildModel(tfl, 'dense'); // not compiled: no optimizer
  const r = tb.attachModel(s, 'run', bare);
  t.true(r.resumed);
  t.true(bitEqual(weightsOf(bare), weightsOf(model)));
  tb.checkpoint(s, 'run', { step: 2 });
  t.deepEqual(internals(s).pool.names('run/opt/'), slots);
  t.is(s['run/state'].optimizer.className, 'Momentum');
  tb.detachModel(s, 'run');
  tf.dispose([data.x, data.y]);
  model.dispose();
  bare.dispose();
  opt.dispose();
});

test.serial('detach gives back uncommitted space; the model keeps its weights', async (t) => {
  await tf.setBackend('shelf');
  const { s } = freshShelf(t);
  const data = makeData(tf, 'dense', 16);
  const { model, opt } = compiled('dense', 'adam');
  tb.attachModel(s, 'run', model);
  await trainSteps(tf, model, data, 0, 1); // creates the moments: uncommitted extents
  t.true(internals(s).pool.stats().reserved > 0);
  const w = weightsOf(model);
  tb.detachModel(s, 'run');
  t.is(internals(s).pool.stats().reserved, 0);
  t.true(bitEqual(weightsOf(model), w));
  for (const v of model.weights) t.false(tb.isShelfVariable(v.read()));
  t.notThrows(() => s.close(), 'nothing of the shelf is in use any more');
  tf.dispose([data.x, data.y]);
  model.dispose();
  opt.dispose();
});

test.serial('errors', async (t) => {
  await tf.setBackend('cpu');
  const { s } = freshShelf(t);
  const { model, opt } = compiled('dense', 'sgd');
  t.throws(() => tb.checkpoint(s, 'run'), { instanceOf: ShelfError, code: 'ESHELF_NOT_FOUND', message: /nothing is attached under "run" on shelf .*\/s/ });
  t.throws(() => tb.attachModel(s, '', model), { instanceOf: TypeError });
  t.throws(() => tb.attachModel(s, '.x', model), { code: 'ESHELF_NAME' });
  t.throws(() => tb.attachModel(s, 'x/', model), { code: 'ESHELF_NAME' });
  t.throws(() => tb.attachModel(s, 'x', {}), { instanceOf: TypeError, message: /LayersModel/ });
  t.throws(() => tb.attachModel(s, 'x', model, { optimiser: opt }), { instanceOf: TypeError, message: /Unknown option "optimiser"/ });
  t.throws(() => tb.attachModel(s, 'x', model, { optimizer: {} }), { instanceOf: TypeError, message: /tf\.Optimizer/ });
  tb.attachModel(s, 'run', model);
  t.throws(() => tb.checkpoint(s, 'run', { steps: 1 }), { instanceOf: TypeError, message: /Unknown option "steps"/ });
  t.throws(() => tb.checkpoint(s, 'run', { step: 'one' }), { instanceOf: TypeError, message: /"step"/ });
  t.throws(() => tb.checkpoint(s, 'run', { extra: { big: 1n } }), { instanceOf: TypeError, message: /JSON/ });
  t.throws(() => tb.checkpoint(s, 'run', { extra: 'x'.repeat(2 ** 20) }), { instanceOf: RangeError });
  t.is(s['run/state'].step, 0, 'a refused checkpoint leaves the previous one');
  tb.detachModel(s, 'run');
  // a different model under the same prefix
  const other = buildModel(tfl, 'dense-bn');
  t.throws(() => tb.attachModel(s, 'run', other), { code: 'ESHELF_TYPE', message: /holds 4 variables, the model has 8/ });
  const wider = tfl.sequential();
  wider.add(tfl.layers.dense({ units: 17, inputShape: [8] }));
  wider.add(tfl.layers.dense({ units: 3 }));
  t.throws(() => tb.attachModel(s, 'run', wider), { code: 'ESHELF_TYPE', message: /variable 0 .* is float32\[8,16\], the model's .* is float32\[8,17\]/ });
  // a different optimizer
  const { model: m2, opt: adam } = compiled('dense', 'adam');
  t.throws(() => tb.attachModel(s, 'run', m2), { code: 'ESHELF_TYPE', message: /holds SGD optimizer state, the optimizer given is Adam/ });
  // a prefix whose state entry is something else
  s['bad/state'] = 7;
  t.throws(() => tb.attachModel(s, 'bad', model), { code: 'ESHELF_TYPE', message: /is a scalar entry, not a tfjs checkpoint state/ });
  for (const m of [model, other, wider, m2]) m.dispose();
  opt.dispose();
  adam.dispose();
});

test.serial('re-attaching to a state older than the optimizer slots resets them: the rerun matches the first run', async (t) => {
  await tf.setBackend('shelf');
  const { s } = freshShelf(t);
  const data = makeData(tf, 'dense', 16);
  const { model, opt } = compiled('dense', 'adam');
  tb.attachModel(s, 'run', model); // initial state: no moments yet
  await trainSteps(tf, model, data, 0, 3);
  const first = weightsOf(model);
  const r = tb.attachModel(s, 'run', model); // back to the initial state, without a checkpoint in between
  t.false(r.resumed);
  t.is(opt.iterations, 0);
  t.is(tb.optimizerSlots(opt).length, 2, 'only accBeta1 and accBeta2 remain');
  await trainSteps(tf, model, data, 0, 3);
  t.true(bitEqual(weightsOf(model), first));
  tb.detachModel(s, 'run');
  tf.dispose([data.x, data.y]);
  model.dispose();
  opt.dispose();
});
