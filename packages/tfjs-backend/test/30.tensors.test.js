'use strict';
// Tensors on shelves: every dtype round-trips through a re-open in another process; zero-copy under 'shelf',
// a copy under any other backend; close() with live shelf-backed tensors is ESHELF_BUSY, force moves them to DRAM.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const tf = require('@tensorflow/tfjs-core');
const sb = require('@tsmm/tfjs-backend');
const { shelf, internals } = require('@tsmm/core');
const { CASES, fingerprint } = require('./harness/tensor_cases');

const CHILD = path.join(__dirname, 'harness', 'read_shelf_child.js');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The shelf's raw bytes of entry `name`, viewed directly through the pool (bypassing the codec). */
function rawBytes(s, name) {
  const { pool } = internals(s);
  const e = pool.get(name);
  return new Uint8Array(pool.view(e.offset, e.length));
}

/** Tensors made by the codec that this process still holds must all be disposed by each test. */
function backendDataIds() {
  return tf.findBackend('shelf').numDataIds();
}

for (const writer of ['cpu', 'shelf']) {
  test.serial(`every dtype round-trips through a re-open in another process (written under '${writer}')`, async t => {
    const dir = tempDir(t);
    await tf.setBackend(writer);
    const s = shelf('rt', { sizeMb: 16, pmemPath: dir, forceNew: true });
    const expected = {};
    for (const [name, make] of Object.entries(CASES)) {
      const x = make();
      expected[name] = fingerprint(x);
      s[name] = x;
      x.dispose();
    }
    // a tensor read back from the shelf (zero-copy under 'shelf') can be put under another name: a copy
    const again = s.f32;
    s.f32copy = again;
    again.dispose();
    expected.f32copy = expected.f32;
    s.close();

    const names = Object.keys(expected);
    for (const reader of ['shelf', 'cpu', 'wasm']) {
      const out = JSON.parse(execFileSync(process.execPath, [CHILD, dir, 'rt', reader, ...names], { encoding: 'utf8' }));
      for (const name of names) {
        if (reader === 'wasm' && expected[name].dtype === 'complex64') {
          t.regex(out[name].error, /complex64.*'wasm'/, 'wasm has no complex64: a clear error');
          continue;
        }
        const { residence, ...got } = out[name];
        t.deepEqual(got, expected[name], `${name} read under ${reader}`);
        const empty = got.shape.includes(0);
        if (reader === 'shelf') t.is(residence, empty ? 'dram' : 'adopted', `${name} is zero-copy under shelf`);
        else t.is(residence, reader, `${name} is copied into ${reader}`);
      }
    }
  });
}

test.serial("under 'shelf' the tensor's values ARE the shelf memory", async t => {
  const dir = tempDir(t);
  await tf.setBackend('shelf');
  const backend = sb.shelfBackend();
  const s = shelf('zc', { sizeMb: 16, pmemPath: dir, forceNew: true });
  s.w = tf.tensor([1, 2, 3, 4], [2, 2]);
  const w = s.w;
  t.like(backend.residenceOf(w.dataId), { residence: 'adopted' });

  // a store into the shelf is visible in the tensor...
  const raw = new Float32Array(rawBytes(s, 'w').buffer);
  raw[0] = 42;
  t.deepEqual(Array.from(w.dataSync()), [42, 2, 3, 4]);
  // ...and the zero-copy accessor is a view of the same bytes
  const borrowed = backend.borrowValues(w.dataId);
  borrowed[3] = -7;
  t.is(raw[3], -7);
  t.is(borrowed.byteLength, 16);

  // dataSync() and data() return copies the caller owns
  const copy = w.dataSync();
  copy[1] = 99;
  t.is(raw[1], 2);
  t.not(copy.buffer, borrowed.buffer);
  t.not((await w.data()).buffer, borrowed.buffer);

  // kernels see the shelf memory directly
  t.deepEqual(Array.from(tf.add(w, 1).dataSync()), [43, 3, 4, -6]);

  // two reads of one entry share it; every read is a new tensor (not a cached one that could be disposed)
  const w2 = s.w;
  t.not(w2, w);
  t.is(backend.borrowValues(w2.dataId).buffer.byteLength, borrowed.buffer.byteLength);
  raw[2] = 5;
  t.is(w2.dataSync()[2], 5);
  tf.dispose([w, w2]);
  t.is(sb.liveShelfTensorBuffers(s), 0);
  s.close();
});

test.serial('under other backends the data is copied in', async t => {
  const dir = tempDir(t);
  const s = shelf('cp', { sizeMb: 16, pmemPath: dir, forceNew: true });
  s.w = tf.tensor([1, 2, 3, 4]);
  for (const name of ['cpu', 'shelf']) {
    await tf.setBackend(name);
    const raw = new Float32Array(rawBytes(s, 'w').buffer);
    raw[0] = 1;
    const w = s.w;
    raw[0] = 100;
    t.is(w.dataSync()[0], name === 'cpu' ? 1 : 100, name);
    w.dispose();
  }
  s.close();
});

test.serial('kernel outputs never alias shelf memory', async t => {
  const dir = tempDir(t);
  await tf.setBackend('shelf');
  const s = shelf('alias', { sizeMb: 16, pmemPath: dir, forceNew: true });
  s.w = tf.tensor([1, 2, 3, 4, 5, 6]);
  const w = s.w;
  const before = sb.shelfPlacementStats().aliasCopies;
  const part = tf.slice(w, [2], [3]); // tfjs-backend-cpu returns a subarray of the input for this slice
  t.true(sb.shelfPlacementStats().aliasCopies > before);
  t.like(sb.shelfBackend().residenceOf(part.dataId), { residence: 'dram' });
  w.dispose();
  s.close(); // not busy: `part` holds a copy
  t.deepEqual(Array.from(part.dataSync()), [3, 4, 5]);
  part.dispose();
});

test.serial('close() with live shelf-backed tensors is ESHELF_BUSY; {force: true} moves them to DRAM', async t => {
  const dir = tempDir(t);
  await tf.setBackend('shelf');
  const s = shelf('busy', { sizeMb: 16, pmemPath: dir, forceNew: true });
  const expected = {};
  for (const [name, make] of Object.entries(CASES)) {
    const x = make();
    expected[name] = fingerprint(x);
    s[name] = x;
    x.dispose();
  }
  const live = Object.fromEntries(Object.keys(CASES).map(n => [n, s[n]]));
  const reshaped = tf.reshape(live.f32, [8]); // shares the dataId
  t.true(sb.liveShelfTensorBuffers(s) > 0);

  const err = t.throws(() => s.close(), { code: 'ESHELF_BUSY' });
  t.regex(err.message, /live tensor buffer\(s\).*force: true/);
  const extra = s.f32;
  t.is(extra.dtype, 'float32', 'the shelf is still open');
  extra.dispose();

  s.close({ force: true });
  t.is(sb.liveShelfTensorBuffers(s), 0);
  for (const [name, x] of Object.entries(live)) {
    t.deepEqual(fingerprint(x), expected[name], `${name} still readable after a forced close`);
    if (!x.shape.includes(0)) t.like(sb.shelfBackend().residenceOf(x.dataId), { residence: 'dram' });
  }
  t.deepEqual(Array.from(reshaped.dataSync()).slice(0, 2), [1.5, -0]);
  const fresh = CASES.i32();
  t.deepEqual(tf.mul(live.i32, 3).dataSync(), tf.mul(fresh, 3).dataSync(), 'ops on evicted tensors');
  fresh.dispose();
  tf.dispose(Object.values(live));
  reshaped.dispose();
});

test.serial('a shelf closes without force once its tensors are disposed', async t => {
  const dir = tempDir(t);
  await tf.setBackend('shelf');
  const ids = backendDataIds();
  const s = shelf('free', { sizeMb: 16, pmemPath: dir, forceNew: true });
  const one = tf.ones([3]);
  s.w = one;
  one.dispose();
  const a = s.w;
  const b = tf.clone(a);
  t.throws(() => s.close(), { code: 'ESHELF_BUSY' });
  tf.dispose([a, b]);
  t.notThrows(() => s.close());
  t.is(backendDataIds(), ids);
});

test.serial('erase and replace while a tensor is alive: it keeps its values', async t => {
  const dir = tempDir(t);
  await tf.setBackend('shelf');
  const s = shelf('erase', { sizeMb: 16, pmemPath: dir, forceNew: true });
  s.w = tf.fill([4096], 7);
  const w = s.w;
  s.erase('w');
  for (let i = 0; i < 4; i++) s[`n${i}`] = tf.fill([4096], i);
  s.replace('n0', tf.fill([4096], -1));
  t.true(w.dataSync().every(v => v === 7));
  w.dispose();
  s.close();
});

test.serial('the codec rejects a corrupt entry with ESHELF_CORRUPT and a disposed tensor with TypeError', async t => {
  const dir = tempDir(t);
  await tf.setBackend('shelf');
  const s = shelf('bad', { sizeMb: 16, pmemPath: dir, forceNew: true });
  const inner = internals(s);
  const put = (name, header, bytes) => {
    const offset = bytes.length > 0 ? inner.pool.alloc(bytes.length) : 0;
    if (bytes.length > 0) new Uint8Array(inner.pool.view(offset, bytes.length)).set(bytes);
    inner.commit([{ type: 'put', name, offset, length: bytes.length, meta: inner.encodeMeta(sb.TENSOR_KIND, header) }]);
  };
  put('short', { v: 1, dtype: 'float32', shape: [3] }, new Uint8Array(8));
  put('dtype', { v: 1, dtype: 'float64', shape: [1] }, new Uint8Array(8));
  put('shape', { v: 1, dtype: 'int32', shape: [-1] }, new Uint8Array(4));
  put('version', { v: 2, dtype: 'int32', shape: [1] }, new Uint8Array(4));
  put('strlen', { v: 1, dtype: 'string', shape: [1] }, new Uint8Array([100, 0, 0, 0, 1, 2]));
  put('strtail', { v: 1, dtype: 'string', shape: [1] }, new Uint8Array([1, 0, 0, 0, 65, 66]));
  put('nonempty', { v: 1, dtype: 'float32', shape: [0] }, new Uint8Array(4));
  for (const name of ['short', 'dtype', 'shape', 'version', 'strlen', 'strtail', 'nonempty']) {
    const err = t.throws(() => s[name], { code: 'ESHELF_CORRUPT' }, name);
    t.true(err.message.includes(JSON.stringify(name)), err.message);
  }
  const x = tf.ones([2]);
  x.dispose();
  t.throws(() => { s.dead = x; }, { instanceOf: TypeError, message: 'Cannot put a disposed tensor on a shelf' });
  s.close({ force: true });
});

test.serial('a read-only shelf: zero-copy reads, ops work, writeInPlace is refused', async t => {
  const dir = tempDir(t);
  await tf.setBackend('shelf');
  const w = shelf('ro', { sizeMb: 16, pmemPath: dir, forceNew: true });
  const x = tf.tensor([1, 2, 3]);
  w.x = x;
  x.dispose();
  w.close();
  const s = shelf('ro', { pmemPath: dir, readOnly: true });
  const r = s.x;
  t.like(sb.shelfBackend().residenceOf(r.dataId), { residence: 'adopted' });
  const sum = tf.add(r, r);
  t.deepEqual(Array.from(sum.dataSync()), [2, 4, 6]);
  sum.dispose();
  t.throws(() => sb.shelfBackend().writeInPlace(r.dataId, [0, 0, 0]), { code: 'ESHELF_READONLY', message: /read-only shelf/ });
  t.deepEqual(Array.from(r.dataSync()), [1, 2, 3]);
  r.dispose();
  s.close();
});
