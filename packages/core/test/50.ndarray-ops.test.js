'use strict';
// ndarray-ops acting on shelf memory in place give the same results as on DRAM ndarrays.
const test = require('ava');
const scijs = require('ndarray');
const ops = require('ndarray-ops');
const { shelf, ndarray } = require('@tsmm/core');
const { freshShelf, ndValues } = require('./helpers');

const CTORS = { float64: Float64Array, float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int16: Int16Array };

function rand(seed) {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
}

function dram(dtype, shape, seed, order = 'C') {
  const r = rand(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new CTORS[dtype](n);
  for (let i = 0; i < n; i++) data[i] = dtype.startsWith('float') ? r() * 200 - 100 : Math.floor(r() * 100);
  const stride = order === 'C' ? undefined : shape.map((_, i) => shape.slice(0, i).reduce((a, b) => a * b, 1));
  return scijs(data, shape, stride);
}

for (const dtype of Object.keys(CTORS)) {
  for (const order of ['C', 'F']) {
    test(`ndarray-ops in place on a shelved ${dtype} (${order} order) match DRAM`, (t) => {
      const { s, dir, name } = freshShelf(t);
      const a = dram(dtype, [37, 23], 7, order);
      const b = dram(dtype, [37, 23], 9, order);
      s.a = a;
      s.b = b;
      const sa = s.a;
      const sb = s.b;
      t.true(sa.data instanceof CTORS[dtype]);
      t.deepEqual(ndValues(sa), ndValues(a));
      // reductions
      for (const f of ['sum', 'prod', 'sup', 'inf', 'norm1', 'norm2', 'norminf', 'all', 'any']) {
        const x = ops[f](sa);
        const y = ops[f](a);
        if (Number.isNaN(y)) t.true(Number.isNaN(x), f); else t.is(x, y, f);
      }
      t.deepEqual(ops.argmax(sa), ops.argmax(a));
      t.deepEqual(ops.argmin(sa), ops.argmin(a));
      t.true(ops.equals(sa, a));
      // element-wise, in place, on shelf memory
      ops.addeq(sa, sb); ops.addeq(a, b);
      ops.mulseq(sa, 3); ops.mulseq(a, 3);
      ops.maxeq(sa, sb); ops.maxeq(a, b);
      ops.subseq(sa, 1); ops.subseq(a, 1);
      t.deepEqual(ndValues(sa), ndValues(a));
      // slices are views of the same memory
      const sv = sa.hi(20, 10).lo(5, 2);
      const dv = a.hi(20, 10).lo(5, 2);
      ops.assigns(sv, 42); ops.assigns(dv, 42);
      ops.negeq(sa.pick(null, 3)); ops.negeq(a.pick(null, 3));
      t.deepEqual(ndValues(sa), ndValues(a));
      t.is(sa.get(6, 3), a.get(6, 3));
      // the changes are on the shelf: persist and read back after a re-open
      sa.persist();
      s.close();
      const r = shelf(name, { pmemPath: dir });
      t.deepEqual(ndValues(r.a), ndValues(a));
      r.close();
    });
  }
}

test('cwise on float64 with a shelved output and DRAM inputs, and the reverse', (t) => {
  const { s } = freshShelf(t);
  s.out = ndarray([64, 64], 'float64');
  const x = dram('float64', [64, 64], 1);
  const y = dram('float64', [64, 64], 2);
  const out = scijs(new Float64Array(64 * 64), [64, 64]);
  ops.mul(s.out, x, y);
  ops.mul(out, x, y);
  t.deepEqual(ndValues(s.out), ndValues(out));
  ops.exp(s.out, s.out.step(1, -1)); ops.exp(out, out.step(1, -1));
  t.deepEqual(ndValues(s.out), ndValues(out));
  const back = scijs(new Float64Array(64 * 64), [64, 64]);
  ops.assign(back, s.out.transpose(1, 0));
  const back2 = scijs(new Float64Array(64 * 64), [64, 64]);
  ops.assign(back2, out.transpose(1, 0));
  t.deepEqual(Array.from(back.data), Array.from(back2.data));
});

test('bigint arrays: ops.assigns and element access on int64/uint64', (t) => {
  const { s } = freshShelf(t);
  s.i = ndarray([5, 5], 'int64');
  s.u = ndarray([5, 5], 'uint64');
  ops.assigns(s.i, -3n);
  ops.assigns(s.u, 2n ** 63n);
  const d = scijs(new BigInt64Array(25), [5, 5]);
  ops.assigns(d, -3n);
  t.deepEqual(ndValues(s.i), ndValues(d));
  t.true(ops.equals(s.i, d));
  t.is(s.u.get(4, 4), 2n ** 63n);
  ops.assign(s.i.pick(0), d.pick(1));
  t.is(s.i.get(0, 4), -3n);
});
