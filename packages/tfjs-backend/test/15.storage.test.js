'use strict';
// The backend's storage API (adopt, writeInPlace, replaceStorage, borrowValues, owners) and placement 'all'.
const test = require('ava');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
const sb = require('@tsmm/tfjs-backend');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
sb.configureShelfBackend({ pmemPath: dir, sizeMb: 8 });

test.before(async () => {
  await tf.setBackend('shelf');
});
test.after.always(() => {
  sb.closeBackendPool();
  fs.rmSync(dir, { recursive: true, force: true });
});

const owner = label => ({ label });

test.serial('adopt: the tensor IS the given memory; reads are copies', t => {
  const b = sb.shelfBackend();
  const mem = new Float32Array([1, 2, 3, 4]);
  const x = b.adoptTensor(mem, [2, 2], 'float32');
  t.like(b.residenceOf(x.dataId), { residence: 'adopted' });
  mem[0] = 10;
  t.deepEqual(Array.from(x.dataSync()), [10, 2, 3, 4]);
  const read = x.dataSync();
  read[1] = 99;
  t.is(mem[1], 2, 'dataSync() returned a copy');
  const borrowed = b.borrowValues(x.dataId);
  t.is(borrowed.buffer, mem.buffer, 'borrowValues is zero-copy');
  t.true(borrowed instanceof Float32Array);
  x.dispose();
  t.is(mem[0], 10, 'disposing never touches adopted memory');
});

test.serial('adopt validates values, shape and dtype', t => {
  const b = sb.shelfBackend();
  t.throws(() => b.adopt(new Float32Array(3), [2, 2], 'float32'), {
    instanceOf: RangeError,
    message: 'Expected 4 values for shape [2, 2], got 3',
  });
  t.throws(() => b.adopt(new Int32Array(4), [4], 'float32'), { instanceOf: TypeError, message: 'Expected float32 values to be a Float32Array' });
  t.throws(() => b.adopt(new Float32Array(4), [4], 'bool'), { instanceOf: TypeError, message: 'Expected bool values to be a Uint8Array' });
  t.throws(() => b.adopt(new Float32Array(4), [4], 'complex64'), { instanceOf: TypeError });
  t.throws(() => b.adopt([new Uint8Array(1), 'x'], [2], 'string'), { instanceOf: TypeError });
  t.throws(() => b.adoptTensor(new Float32Array(2), [2], 'complex64'), { instanceOf: TypeError });
});

test.serial('adopt of every dtype, and complex64 from two planes', t => {
  const b = sb.shelfBackend();
  const ids = b.numDataIds();
  const i = b.adoptTensor(new Int32Array([5, -6]), [2], 'int32');
  const bo = b.adoptTensor(new Uint8Array([1, 0, 1]), [3], 'bool');
  const s = b.adoptTensor([new TextEncoder().encode('ab'), new TextEncoder().encode('')], [2], 'string');
  const c = b.adoptTensor({ real: new Float32Array([1, 2]), imag: new Float32Array([3, 4]) }, [2], 'complex64');
  t.deepEqual(Array.from(i.dataSync()), [5, -6]);
  t.deepEqual(Array.from(bo.dataSync()), [1, 0, 1]);
  t.deepEqual(s.dataSync(), ['ab', '']);
  t.deepEqual(Array.from(c.dataSync()), [1, 3, 2, 4]);
  t.is(b.numDataIds(), ids + 6, 'complex64 is a container and two parts');
  const re = tf.real(c);
  t.deepEqual(Array.from(re.dataSync()), [1, 2]);
  tf.dispose([re, i, bo, s, c]);
  t.is(b.numDataIds(), ids);
});

test.serial('owners count live buffers; evictOwner moves them to DRAM', t => {
  const b = sb.shelfBackend();
  const o = owner('test owner');
  const mem = new Float32Array([1, 2, 3]);
  const x = b.adoptTensor(mem, [3], 'float32', o);
  const c = b.adoptTensor({ real: new Float32Array([1]), imag: new Float32Array([2]) }, [1], 'complex64', o);
  t.is(sb.liveBufferCount(o), 3);
  t.is(sb.evictOwner(o), 3);
  t.is(sb.liveBufferCount(o), 0);
  mem.fill(0);
  t.deepEqual(Array.from(x.dataSync()), [1, 2, 3], 'the data now lives in DRAM');
  t.like(b.residenceOf(x.dataId), { residence: 'dram' });
  t.deepEqual(Array.from(c.dataSync()), [1, 2]);
  tf.dispose([x, c]);
  const y = b.adoptTensor(new Float32Array(2), [2], 'float32', o);
  t.is(sb.liveBufferCount(o), 1);
  y.dispose();
  t.is(sb.liveBufferCount(o), 0);
});

test.serial('writeInPlace keeps the dataId and writes the memory; outputs made before keep their values', t => {
  const b = sb.shelfBackend();
  const mem = new Float32Array([1, 2, 3, 4]);
  const v = b.adoptTensor(mem, [4], 'float32');
  const sliced = tf.slice(v, [1], [2]); // cpu's slice would alias; the backend copied it
  const reshaped = tf.reshape(v, [2, 2]); // shares v's dataId
  const id = v.dataId;
  b.writeInPlace(v.dataId, [9, 8, 7, 6]);
  t.is(v.dataId, id);
  t.deepEqual(Array.from(mem), [9, 8, 7, 6]);
  t.deepEqual(Array.from(v.dataSync()), [9, 8, 7, 6]);
  t.deepEqual(Array.from(reshaped.dataSync()), [9, 8, 7, 6], 'a tensor sharing the dataId sees the write');
  t.is(b.refCount(v.dataId), 2);
  t.deepEqual(Array.from(sliced.dataSync()), [2, 3]);
  tf.dispose([v, sliced, reshaped]);
});

test.serial('writeInPlace on plain DRAM storage never leaks into earlier aliases', t => {
  const b = sb.shelfBackend();
  const v = tf.tensor1d([1, 2, 3, 4]);
  const sliced = tf.slice(v, [0], [2]); // a subarray of v's plain storage, as on 'cpu'
  b.writeInPlace(v.dataId, new Float32Array([5, 6, 7, 8]));
  t.deepEqual(Array.from(v.dataSync()), [5, 6, 7, 8]);
  t.deepEqual(Array.from(sliced.dataSync()), [1, 2]);
  const sliced2 = tf.slice(v, [0], [2]);
  b.writeInPlace(v.dataId, new Float32Array([0, 0, 0, 0]));
  t.deepEqual(Array.from(sliced2.dataSync()), [5, 6], 'from the first write on, the storage is guarded');
  tf.dispose([v, sliced, sliced2]);
});

test.serial('writeInPlace and replaceStorage errors', t => {
  const b = sb.shelfBackend();
  const s = tf.tensor(['a']);
  const c = tf.complex([1], [2]);
  const x = tf.ones([2]);
  t.throws(() => b.writeInPlace(s.dataId, [1]), { instanceOf: TypeError, message: 'writeInPlace: string data cannot be written in place' });
  t.throws(() => b.writeInPlace(c.dataId, [1]), { instanceOf: TypeError });
  t.throws(() => b.writeInPlace(x.dataId, [1, 2, 3]), { instanceOf: RangeError, message: 'writeInPlace: expected 2 values, got 3' });
  t.throws(() => b.writeInPlace({ id: -1 }, [1]), { instanceOf: TypeError, message: /not stored in this 'shelf' backend/ });
  t.throws(() => b.replaceStorage(x.dataId, new Float32Array(3)), { instanceOf: RangeError });
  t.throws(() => b.replaceStorage(c.dataId, new Float32Array(1)), { instanceOf: TypeError });
  t.throws(() => b.borrowValues(c.dataId), { instanceOf: TypeError });
  tf.dispose([s, c, x]);
});

test.serial('replaceStorage rebinds a dataId to other memory without a copy', t => {
  const b = sb.shelfBackend();
  const o1 = owner('one');
  const o2 = owner('two');
  const a = new Float32Array([1, 1]);
  const bmem = new Float32Array([2, 2]);
  const v = b.adoptTensor(a, [2], 'float32', o1);
  const id = v.dataId;
  b.replaceStorage(v.dataId, bmem, o2);
  t.is(v.dataId, id);
  t.is(sb.liveBufferCount(o1), 0);
  t.is(sb.liveBufferCount(o2), 1);
  bmem[0] = 3;
  t.deepEqual(Array.from(v.dataSync()), [3, 2]);
  v.dispose();
  t.is(sb.liveBufferCount(o2), 0);
});

test.serial('adopted data moves (copied) when another backend uses it', async t => {
  const b = sb.shelfBackend();
  const o = owner('move');
  const mem = new Float32Array([1, 2]);
  const v = b.adoptTensor(mem, [2], 'float32', o);
  await tf.setBackend('cpu');
  const w = tf.add(v, 1);
  t.deepEqual(Array.from(w.dataSync()), [2, 3]);
  t.is(sb.liveBufferCount(o), 0, 'the data left the shelf backend');
  mem[0] = 100;
  t.deepEqual(Array.from(v.dataSync()), [1, 2]);
  tf.dispose([v, w]);
  await tf.setBackend('shelf');
});

test.serial("placement 'all': every buffer is pool memory, reads are copies, blocks are recycled", t => {
  sb.configureShelfBackend({ placement: 'all' });
  try {
    const b = sb.shelfBackend();
    const user = new Float32Array([1, 2, 3]);
    const x = tf.tensor1d(user);
    t.like(b.residenceOf(x.dataId), { residence: 'pool' });
    user[0] = 50;
    t.is(x.dataSync()[0], 1, 'the input was copied into the pool');
    const y = tf.mul(x, x);
    t.like(b.residenceOf(y.dataId), { residence: 'pool' });
    t.deepEqual(Array.from(y.dataSync()), [1, 4, 9]);
    const stats = sb.backendPoolStats();
    t.true(stats.open);
    t.is(path.dirname(stats.path), dir);
    const reusesBefore = stats.reuses;
    tf.dispose([x, y]);
    tf.dispose(tf.ones([3]));
    t.true(sb.backendPoolStats().reuses > reusesBefore, 'a released block of the same size was reused');
    // strings stay in DRAM; empty tensors need no memory
    const s = tf.tensor(['a', 'b']);
    const e = tf.zeros([0, 4]);
    t.like(b.residenceOf(s.dataId), { residence: 'dram' });
    t.like(b.residenceOf(e.dataId), { residence: 'dram' });
    tf.dispose([s, e]);

    // moving the pool while it holds tensors is refused; changing only the placement is fine
    const live = tf.ones([4]);
    t.throws(() => sb.configureShelfBackend({ sizeMb: 32 }), { code: 'ESHELF_BUSY' });
    t.is(sb.getShelfBackendConfig().sizeMb, 8);
    live.dispose();
    t.true(sb.trimBackendPool() > 0);
    t.is(sb.backendPoolStats().cachedBlocks, 0);
  } finally {
    sb.configureShelfBackend({ placement: 'named' });
  }
});

test.serial('makeZeros: zeros made only when first read, never for a dataId disposed unread', t => {
  const b = sb.shelfBackend();
  const st0 = sb.shelfPlacementStats();
  const ids = b.numDataIds();
  // disposed unread: no memory was ever made (what loadLayersModel's throw-away initial weights get)
  const unread = tf.engine().makeTensorFromDataId(b.makeZeros([512, 512], 'float32'), [512, 512], 'float32', b);
  const v = tf.variable(unread); // tfjs-layers' LayerVariable: the variable shares the dataId...
  unread.dispose();
  const loaded = tf.ones([512, 512]);
  v.assign(loaded); // ...until loadWeights assigns the loaded value
  loaded.dispose();
  let st = sb.shelfPlacementStats();
  t.is(st.lazyZeros - st0.lazyZeros, 1);
  t.is(st.lazyZerosMade - st0.lazyZerosMade, 0, 'the zeros were never made');
  t.is(v.dataSync()[0], 1);
  v.dispose();
  // read: zeros of every numeric dtype, through kernels, reads and borrowValues
  for (const dtype of ['float32', 'int32', 'bool']) {
    const z = tf.engine().makeTensorFromDataId(b.makeZeros([2, 3], dtype), [2, 3], dtype, b);
    t.is(z.dtype, dtype);
    t.deepEqual(Array.from(z.dataSync()), [0, 0, 0, 0, 0, 0]);
    const y = tf.tidy(() => tf.add(z, tf.scalar(1, dtype === 'bool' ? 'int32' : dtype)));
    t.deepEqual(Array.from(y.dataSync()), [1, 1, 1, 1, 1, 1]);
    t.is(b.borrowValues(z.dataId).length, 6);
    t.true(b.borrowValues(z.dataId) instanceof (dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array));
    tf.dispose([z, y]);
  }
  st = sb.shelfPlacementStats();
  t.is(st.lazyZerosMade - st0.lazyZerosMade, 3);
  t.is(b.numDataIds(), ids);
  // placement 'all': the zeros are made in the pool, like any other buffer
  sb.configureShelfBackend({ placement: 'all' });
  try {
    const z = tf.engine().makeTensorFromDataId(b.makeZeros([5], 'float32'), [5], 'float32', b);
    t.like(b.residenceOf(z.dataId), { residence: 'dram' }); // nothing made yet
    t.deepEqual(Array.from(tf.tidy(() => tf.add(z, 2).dataSync())), [2, 2, 2, 2, 2]);
    t.like(b.residenceOf(z.dataId), { residence: 'pool' });
    z.dispose();
  } finally {
    sb.configureShelfBackend({ placement: 'named' });
  }
  // a lazy dataId moves to another backend as zeros
  const m = tf.engine().makeTensorFromDataId(b.makeZeros([3], 'int32'), [3], 'int32', b);
  tf.engine().moveData(tf.findBackend('cpu'), m.dataId);
  t.deepEqual(Array.from(m.dataSync()), [0, 0, 0]);
  m.dispose();
  t.throws(() => b.makeZeros([2], 'string'), { instanceOf: TypeError, message: 'makeZeros: dtype string is not float32, int32 or bool' });
  t.throws(() => b.makeZeros([2], 'complex64'), { instanceOf: TypeError });
});

test.serial("placement 'all': the pool grows when full, and views stay valid", t => {
  sb.configureShelfBackend({ placement: 'all' });
  try {
    const keep = [];
    for (let i = 0; i < 6; i++) keep.push(tf.fill([1 << 20], i)); // 6 x 4 MiB in an 8 MiB pool
    t.true(sb.backendPoolStats().grows > 0);
    keep.forEach((x, i) => t.is(x.dataSync()[12345], i));
    tf.dispose(keep);
  } finally {
    sb.configureShelfBackend({ placement: 'named' });
  }
});

test("placement 'all': a second process takes a private pool and deletes it at exit", async t => {
  const pmem = fs.mkdtempSync(path.join(dir, 'two-'));
  const env = { ...process.env, TSMM_PMEM_PATH: pmem, TSMM_BACKEND_PLACEMENT: 'all' };
  const use = `
    const tf = require('@tensorflow/tfjs-core'); const sb = require('@tsmm/tfjs-backend');
    tf.setBackend('shelf').then(() => { const x = tf.ones([4]); console.log(sb.backendPoolStats().path); `;
  const holder = spawn(process.execPath, ['-e', use + "process.stdin.once('data', () => process.exit(0)); });"], {
    env, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const held = await new Promise(resolve => holder.stdout.once('data', d => resolve(String(d).trim())));
  t.is(held, path.join(pmem, sb.DEFAULT_POOL_NAME));
  const second = execFileSync(process.execPath, ['-e', use + '});'], { env, encoding: 'utf8' }).trim();
  t.regex(second, new RegExp(`\\${sb.DEFAULT_POOL_NAME}\\.\\d+$`));
  holder.stdin.write('x');
  await new Promise(resolve => holder.once('exit', resolve));
  const files = fs.readdirSync(pmem).sort();
  t.deepEqual(files, [`${sb.DEFAULT_POOL_NAME}.data`, `${sb.DEFAULT_POOL_NAME}.map`], 'the private pool was deleted');
});
