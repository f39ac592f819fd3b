'use strict';
// Every value kind and dtype, put, closed, and read back by a SEPARATE process (fixtures/dump.js).
const test = require('ava');
const scijs = require('ndarray');
const { shelf, ndarray, DTYPES } = require('@tsmm/core');
const { tempDir, describe, runFixture } = require('./helpers');

const SAMPLES = {
  int8: [-128, -1, 0, 127], int16: [-32768, 5, 32767, 0], int32: [-(2 ** 31), 7, 2 ** 31 - 1, 0],
  int64: [-(2n ** 63n), -1n, 2n ** 63n - 1n, 0n], uint8: [0, 1, 200, 255], uint8_clamped: [0, 12, 255, 128],
  uint16: [0, 65535, 3, 9], uint32: [0, 2 ** 32 - 1, 17, 1], uint64: [0n, 2n ** 64n - 1n, 5n, 1n],
  float32: [1.5, -0.25, 3e38, Infinity], float64: [Math.PI, -0, NaN, 1e-300],
};
const CTORS = {
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array,
  uint8_clamped: Uint8ClampedArray, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  float32: Float32Array, float64: Float64Array,
};

class Point { constructor() { this.x = 1; } }

function values() {
  const v = {};
  for (const d of DTYPES) {
    const data = CTORS[d].from(SAMPLES[d].concat(SAMPLES[d]));
    v[`ta_${d}`] = data;                                      // typed array
    v[`nd_${d}`] = scijs(data, [2, 4]);                       // DRAM ndarray copied onto the shelf (C order)
    v[`ndF_${d}`] = scijs(CTORS[d].from(data), [2, 4], [1, 2]); // column-major source: order kept
  }
  const base = scijs(Float64Array.from({ length: 24 }, (_, i) => i * 1.5), [2, 3, 4]);
  v.transposed = base.transpose(2, 0, 1);                     // dense, neither C nor F
  v.strided = base.step(1, 2, -1);                            // not dense: copied element by element (C order)
  v.zeroD = scijs(new Int32Array([42]), []);
  v.empty = scijs(new Float32Array(0), [0, 3]);
  v.plainArray = scijs([1, 2, 3, 4], [2, 2]);                 // JS array data -> float64
  v.buffer = Buffer.from('hello, shelf');
  v.arrayBuffer = new Uint8Array([1, 2, 3, 250]).buffer;
  v.dataView = new DataView(new Uint8Array([9, 8, 7]).buffer);
  v.emptyBuffer = Buffer.alloc(0);
  v.str = 'héllo wörld ✓ 𝄞';
  v.emptyStr = '';
  v.num = 3.25;
  v.negZero = -0;
  v.nan = NaN;
  v.inf = -Infinity;
  v.big = -(2n ** 100n);
  v.yes = true;
  v.no = false;
  v.nil = null;
  v.obj = { a: 1, b: [1, 'two', { c: null }], d: new Date(86400000), u: undefined };
  v.map = new Map([['k', 1], [2, { v: [3] }]]);
  v.set = new Set([1, 'a', 3n]);
  v.date = new Date(1700000000000);
  v.arr = [1, [2, [3]], 'x'];
  v.regex = /ab+c/gi;
  v.nested = { typed: new Uint16Array([1, 2]), buf: Buffer.from('zz') };
  v.nullProto = Object.assign(Object.create(null), { q: 1 });
  return v;
}

function declared() {
  const v = {};
  for (const d of DTYPES) {
    v[`decl_${d}`] = ndarray([3, 2], d);
    v[`declF_${d}`] = ndarray([3, 2], d, { order: 'F' });
  }
  return v;
}

test('every kind and dtype round-trips through close and re-open in another process', (t) => {
  const dir = tempDir(t);
  const s = shelf('vals', { sizeMb: 16, pmemPath: dir, forceNew: true });
  const vals = values();
  for (const [k, v] of Object.entries(vals)) s[k] = v;
  const decl = declared();
  for (const [k, v] of Object.entries(decl)) {
    s[k] = v;
    const a = s[k];
    const last = a.shape.map((n) => n - 1);
    a.set(...last, a.data instanceof BigInt64Array || a.data instanceof BigUint64Array ? 7n : 7);
    a.persist();
  }
  // In this process: same kinds back, arrays as views of the same class.
  t.true(s.ta_float32 instanceof Float32Array);
  t.true(s.buffer instanceof Buffer);
  t.true(s.arrayBuffer instanceof ArrayBuffer);
  t.true(s.dataView instanceof DataView);
  t.true(s.nd_int64.data instanceof BigInt64Array);
  t.deepEqual(s.ndF_int32.stride, [1, 2]);
  t.deepEqual(s.declF_float64.stride, [1, 3]);
  t.deepEqual(s.decl_float64.stride, [2, 1]);
  t.deepEqual(s.transposed.shape, [4, 2, 3]);
  const expected = {};
  for (const k of s.items) expected[k] = describe(s[k]);
  // The shelved values equal the originals (contents), the declarations read zero but for the one element set.
  for (const [k, v] of Object.entries(vals)) {
    const d = describe(v);
    const got = expected[k];
    if (d.kind === 'ndarray') {
      t.deepEqual(got.values, d.values, k);
      t.deepEqual(got.shape, d.shape, k);
    } else if (k === 'nullProto') {
      t.deepEqual(got.text, '{ q: 1 }', 'v8 does not keep a null prototype: the copy is a plain object');
    } else t.deepEqual(got, d, k);
  }
  t.deepEqual(expected.decl_int64.values, ['0', '0', '0', '0', '0', '7']);
  t.is(expected.transposed.values.length, 24);
  t.deepEqual(expected.strided.shape, [2, 2, 4]);
  t.deepEqual(expected.strided.stride, [8, 4, 1]);
  const inspectHere = s.inspect().map((r) => ({ ...r }));
  s.close();

  const r = runFixture('dump.js', [dir, 'vals']);
  t.is(r.status, 0, r.stderr);
  const other = JSON.parse(r.stdout);
  t.deepEqual(other['.inspect'], inspectHere);
  delete other['.inspect'];
  t.deepEqual(Object.keys(other).sort(), Object.keys(expected).sort());
  for (const k of Object.keys(expected)) t.deepEqual(other[k], expected[k], k);
  t.is(Object.keys(expected).length, Object.keys(vals).length + Object.keys(decl).length);
});

test('structured values come back as copies; changing them does not change the shelf', (t) => {
  const dir = tempDir(t);
  const s = shelf('c', { sizeMb: 4, pmemPath: dir, forceNew: true });
  t.teardown(() => s.close());
  s.o = { a: [1, 2], t: new Uint8Array([1]) };
  const o1 = s.o;
  o1.a.push(3);
  o1.t[0] = 99;
  t.deepEqual(s.o.a, [1, 2]);
  t.is(s.o.t[0], 1);
  t.not(s.o, s.o);
  s.close();
  t.deepEqual(o1.a, [1, 2, 3], 'copies survive close');
});

test('class instances and other non-data objects are refused with ESHELF_TYPE', (t) => {
  const dir = tempDir(t);
  const s = shelf('c', { sizeMb: 4, pmemPath: dir, forceNew: true });
  t.teardown(() => s.close());
  t.throws(() => { s.p = new Point(); }, { code: 'ESHELF_TYPE', message: 'non-shelf type (p, Point) cannot be put on the shelf' });
  t.throws(() => { s.p = { deep: { f() {} } }; }, { code: 'ESHELF_TYPE', message: 'non-shelf type (p.deep.f, function) cannot be put on the shelf' });
  t.throws(() => { s.p = new WeakMap(); }, { code: 'ESHELF_TYPE', message: /\(p, WeakMap\)/ });
  t.throws(() => { s.p = Promise.resolve(1); }, { code: 'ESHELF_TYPE', message: /\(p, Promise\)/ });
  t.throws(() => { s.p = Symbol('x'); }, { code: 'ESHELF_TYPE', message: 'non-shelf type (p, symbol) cannot be put on the shelf' });
  t.throws(() => { s.p = undefined; }, { code: 'ESHELF_TYPE', message: 'non-shelf type (p, undefined) cannot be put on the shelf' });
  t.throws(() => { s.p = [1, Symbol('y')]; }, { code: 'ESHELF_TYPE', message: /\(p\[1\], symbol\)/ });
  t.deepEqual(s.items, []);
  t.is(s.stats().reserved, 0, 'nothing left allocated');
});
