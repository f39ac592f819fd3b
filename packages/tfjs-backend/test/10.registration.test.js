'use strict';
// Registration: 'shelf' exists, is never chosen by default, has every 'cpu' kernel, and gradients work.
const test = require('ava');
const { execFileSync } = require('node:child_process');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-layers'); // registers tfjs-core's gradients in Node (tfjs-core's node bundle does not)
const sb = require('@tsmm/tfjs-backend');

test.serial('shelf is registered, below cpu, and not chosen by default', async t => {
  t.truthy(tf.findBackendFactory('shelf'));
  await tf.ready();
  t.is(tf.getBackend(), 'cpu');
  const factories = tf.engine().registryFactory;
  t.true(factories.shelf.priority < factories.cpu.priority);
  t.is(sb.SHELF_BACKEND_NAME, 'shelf');
});

test.serial('shelf has exactly the kernels of cpu, running the same functions', t => {
  const cpu = tf.getKernelsForBackend('cpu');
  const shelf = tf.getKernelsForBackend('shelf');
  t.is(shelf.length, cpu.length);
  if (tf.version_core === '4.22.0') t.is(shelf.length, 172);
  for (const k of cpu) {
    const s = tf.getKernel(k.kernelName, 'shelf');
    t.truthy(s, k.kernelName);
    t.is(s.kernelFunc.cpuKernelFunc, k.kernelFunc, k.kernelName);
    t.is(s.setupFunc, k.setupFunc, k.kernelName);
    t.is(s.disposeFunc, k.disposeFunc, k.kernelName);
  }
  t.deepEqual(sb.shelfKernelNames().sort(), cpu.map(k => k.kernelName).sort());
});

test.serial('registerShelfKernels is idempotent and picks up kernels registered for cpu later', t => {
  t.is(sb.registerShelfKernels(), 0);
  const before = tf.getKernelsForBackend('shelf').length;
  tf.registerKernel({ kernelName: 'TsmmTestKernel', backendName: 'cpu', kernelFunc: () => null });
  t.is(sb.registerShelfKernels(), 1);
  t.is(tf.getKernelsForBackend('shelf').length, before + 1);
  tf.unregisterKernel('TsmmTestKernel', 'cpu');
  tf.unregisterKernel('TsmmTestKernel', 'shelf');
  t.deepEqual(sb.registerShelfBackend(), { backend: false, kernels: 0 });
});

test.serial('ops and gradients on shelf give what cpu gives', async t => {
  const f = x => tf.sum(tf.mul(tf.sin(x), tf.square(x)));
  const run = async name => {
    await tf.setBackend(name);
    t.is(tf.getBackend(), name);
    return tf.tidy(() => {
      const x = tf.tensor2d([[0.5, -1.25], [2, 3.5]]);
      const { value, grad } = tf.valueAndGrad(f)(x);
      const m = tf.matMul(x, x, false, true);
      return { value: value.dataSync().slice(), grad: grad.dataSync().slice(), m: m.dataSync().slice() };
    });
  };
  const cpu = await run('cpu');
  const shelf = await run('shelf');
  t.deepEqual(shelf, cpu);
  t.true(tf.backend() instanceof sb.ShelfBackend);
  await tf.setBackend('cpu');
});

test.serial('a model trains on shelf', async t => {
  const tfl = require('@tensorflow/tfjs-layers');
  await tf.setBackend('shelf');
  const before = tf.memory().numTensors;
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], kernelInitializer: 'ones' })] });
  const optimizer = tf.train.sgd(0.1);
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const xs = tf.ones([8, 3]);
  const ys = tf.zeros([8, 2]);
  const h = await model.fit(xs, ys, { epochs: 3, verbose: 0 });
  t.true(h.history.loss[2] < h.history.loss[0]);
  xs.dispose();
  ys.dispose();
  model.dispose();
  optimizer.dispose();
  t.is(tf.memory().numTensors, before);
  await tf.setBackend('cpu');
});

test('the base entry registers nothing', t => {
  const out = execFileSync(process.execPath, ['-e', `
    const tf = require('@tensorflow/tfjs-core');
    const base = require('@tsmm/tfjs-backend/dist/base');
    const r = { factory: tf.findBackendFactory('shelf') != null, kernels: tf.getKernelsForBackend('shelf').length,
                exports: typeof base.ShelfBackend === 'function' && typeof base.configureShelfBackend === 'function' };
    base.registerShelfBackend();
    r.after = tf.getKernelsForBackend('shelf').length === tf.getKernelsForBackend('cpu').length;
    console.log(JSON.stringify(r));
  `], { encoding: 'utf8' });
  t.deepEqual(JSON.parse(out), { factory: false, kernels: 0, exports: true, after: true });
});

test('both entries export the same names', t => {
  const base = require('@tsmm/tfjs-backend/dist/base');
  t.deepEqual(Object.keys(sb).sort(), Object.keys(base).sort());
});

test('configureShelfBackend validates its options', t => {
  const cfg = sb.getShelfBackendConfig();
  t.is(cfg.placement, process.env.TSMM_BACKEND_PLACEMENT || 'named');
  t.throws(() => sb.configureShelfBackend({ placment: 'all' }), {
    instanceOf: TypeError,
    message: 'Unknown option "placment" (expected one of: pmemPath, sizeMb, name, placement)',
  });
  t.throws(() => sb.configureShelfBackend({ placement: 'some' }), {
    instanceOf: TypeError,
    message: 'Expected the "placement" option to be "named" or "all", got "some"',
  });
  t.throws(() => sb.configureShelfBackend({ sizeMb: 0 }), { instanceOf: RangeError });
  t.throws(() => sb.configureShelfBackend({ sizeMb: 1.5 }), { instanceOf: RangeError });
  t.throws(() => sb.configureShelfBackend({ name: 'a/b' }), { instanceOf: TypeError });
  t.throws(() => sb.configureShelfBackend({ pmemPath: '' }), { instanceOf: TypeError });
  t.throws(() => sb.configureShelfBackend(null), { instanceOf: TypeError });
  t.deepEqual(sb.getShelfBackendConfig(), cfg, 'a rejected call changes nothing');
});

test('configuration comes from the environment', t => {
  const out = execFileSync(process.execPath, ['-e', `
    const sb = require('@tsmm/tfjs-backend');
    console.log(JSON.stringify(sb.getShelfBackendConfig()));
  `], { encoding: 'utf8', env: { ...process.env, TSMM_PMEM_PATH: '/some/where', TSMM_BACKEND_SIZE_MB: '64', TSMM_BACKEND_PLACEMENT: 'all' } });
  t.like(JSON.parse(out), { pmemPath: '/some/where', sizeMb: 64, placement: 'all', name: sb.DEFAULT_POOL_NAME });
  const bad = () => execFileSync(process.execPath, ['-e', "require('@tsmm/tfjs-backend')"], {
    encoding: 'utf8', stdio: 'pipe', env: { ...process.env, TSMM_BACKEND_SIZE_MB: 'lots' },
  });
  t.throws(bad, { message: /TSMM_BACKEND_SIZE_MB environment variable to be a positive integer/ });
});
