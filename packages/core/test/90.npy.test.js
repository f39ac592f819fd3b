'use strict';
// .npy export and import, checked against bytes built by hand from the format description (numpy.lib.format) and
// against files written by numpy 2.4 (embedded below as base64), not only round trips through our own code.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const scijs = require('ndarray');
const {
  shelf, ndarray, internals, encodeMeta, exportNpy, importNpy, npyHeader, parseNpyHeader, readNpyHeader, ShelfError,
} = require('@tsmm/core');

function fresh(t, sizeMb = 16) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  const s = shelf('npy', { sizeMb, pmemPath: dir, forceNew: true });
  t.teardown(() => {
    s.close({ force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, s };
}

/** The .npy preamble + header exactly as the format prescribes: magic, version 1.0, uint16 LE length, dict, pad, '\n'. */
function handHeader(dict, headerLen) {
  const pad = headerLen - dict.length - 1;
  return Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, headerLen & 0xff, headerLen >> 8]),
    Buffer.from(dict + ' '.repeat(pad) + '\n', 'latin1'),
  ]);
}

function le(type, values) {
  const size = { i8: 8, f8: 8, f4: 4, i4: 4, u2: 2 }[type];
  const b = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    if (type === 'i8') b.writeBigInt64LE(BigInt(v), i * 8);
    else if (type === 'f8') b.writeDoubleLE(v, i * 8);
    else if (type === 'f4') b.writeFloatLE(v, i * 4);
    else if (type === 'i4') b.writeInt32LE(v, i * 4);
    else b.writeUInt16LE(v, i * 2);
  });
  return b;
}

// numpy 2.4.6: np.save(...) of the arrays named in each key
const NUMPY = {
  // np.arange(6, dtype='<f8').reshape(2, 3)
  f8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAPA/AAAAAAAAAEAAAAAAAAAIQAAAAAAAABBAAAAAAAAAFEA=',
  // np.asfortranarray(np.arange(6, dtype='<i4').reshape(2, 3))
  fort: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAwAAAAEAAAAEAAAAAgAAAAUAAAA=',
  // np.arange(4, dtype='>u2')
  be: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPnUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAABAAIAAw==',
  // np.array([True, False, True])
  bool: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
  // np.float32(2.5)
  scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAACBA',
  // np.zeros((3, 0), dtype='<i8')
  empty: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDApLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
  // numpy.lib.format.write_array(f, np.arange(3, dtype='<i2'), version=(2, 0))
  v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTInLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAEAAgA=',
};

function writeNumpy(dir, key) {
  const f = path.join(dir, `${key}.npy`);
  fs.writeFileSync(f, Buffer.from(NUMPY[key], 'base64'));
  return f;
}

function all(a) {
  const out = [];
  const walk = (d, idx) => {
    if (d === a.shape.length) { out.push(a.get(...idx)); return; }
    for (let i = 0; i < a.shape[d]; i++) walk(d + 1, [...idx, i]);
  };
  if (a.shape.reduce((x, y) => x * y, 1) > 0) walk(0, []);
  return out;
}

test('npyHeader: float64 (2, 3) is byte for byte the format prescribes (64-aligned, version 1.0)', (t) => {
  // dict is 59 characters; 10 + 59 + 1 = 70 -> pad with 58 spaces to 128; HEADER_LEN = 118
  const dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  t.is(dict.length, 59);
  const expected = handHeader(dict, 118);
  t.is(expected.length, 128);
  t.deepEqual(npyHeader('float64', [2, 3]), expected);
});

test('npyHeader: 1-d, 0-d, Fortran order and one-byte types', (t) => {
  const d1 = "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }";
  t.deepEqual(npyHeader('int32', [5]), handHeader(d1, 118));
  const d0 = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
  t.deepEqual(npyHeader('float32', []), handHeader(d0, 118));
  t.true(npyHeader('uint8', [2, 2], true).toString('latin1').includes("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }"));
  t.true(npyHeader('bool', [1]).toString('latin1').includes("'descr': '|b1'"));
  for (const [d, shape] of [['int8', [1]], ['uint64', [7, 1, 3]], ['float64', Array(20).fill(1000)]]) {
    const h = npyHeader(d, shape);
    t.is(h.length % 64, 0);
    t.is(h[h.length - 1], 0x0a);
    t.is(h.readUInt16LE(8), h.length - 10);
  }
});

test('npyHeader: a header longer than 65535 bytes uses version 2.0 with a uint32 length', (t) => {
  const h = npyHeader('float64', Array(30000).fill(1));
  t.is(h[6], 2);
  t.is(h[7], 0);
  t.is(h.readUInt32LE(8), h.length - 12);
  t.is(h.length % 64, 0);
  const p = parseNpyHeader(h);
  t.deepEqual(p.version, [2, 0]);
  t.is(p.shape.length, 30000);
});

test('exportNpy: an int64 C-order array is header + little-endian elements, nothing else', (t) => {
  const { dir, s } = fresh(t);
  s.x = ndarray([2, 3], 'int64');
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) s.x.set(i, j, BigInt(i * 10 + j - 3));
  const f = path.join(dir, 'x.npy');
  const r = exportNpy(s, 'x', f);
  const expected = Buffer.concat([
    handHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", 118),
    le('i8', [-3, -2, -1, 7, 8, 9]),
  ]);
  t.deepEqual(fs.readFileSync(f), expected);
  t.is(r.bytes, expected.length);
  t.deepEqual(r.names, ['x']);
  t.is(r.file, path.resolve(f));
  t.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temporary file left');
});

test('exportNpy: an F-order array is written as stored, with fortran_order True', (t) => {
  const { dir, s } = fresh(t);
  s.f = ndarray([2, 3], 'float32', { order: 'F' });
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) s.f.set(i, j, i * 10 + j + 0.5);
  const f = path.join(dir, 'f.npy');
  exportNpy(s, 'f', f);
  // column-major: (0,0) (1,0) (0,1) (1,1) (0,2) (1,2)
  const expected = Buffer.concat([
    handHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 118),
    le('f4', [0.5, 10.5, 1.5, 11.5, 2.5, 12.5]),
  ]);
  t.deepEqual(fs.readFileSync(f), expected);
});

test('exportNpy: another dense layout (permuted axes) is re-ordered to C order', (t) => {
  const { dir, s } = fresh(t);
  // a (2, 3, 2) view of 0..11 with axes permuted: stored neither C nor F
  const base = scijs(new Float64Array(12).map((_, i) => i), [3, 2, 2]).transpose(1, 0, 2);
  s.p = base;
  const want = all(base);
  const f = path.join(dir, 'p.npy');
  exportNpy(s, 'p', f);
  const bytes = fs.readFileSync(f);
  const h = parseNpyHeader(bytes);
  t.false(h.fortranOrder);
  t.deepEqual(h.shape, [2, 3, 2]);
  t.deepEqual(bytes.subarray(h.dataOffset), le('f8', want));
});

test('exportNpy: typed arrays, Buffers, and tfjs tensor, variable and weight entries (read raw, without tfjs)', (t) => {
  const { dir, s } = fresh(t);
  s.u = new Uint16Array([1, 2, 65535]);
  s.b = Buffer.from('hi');
  const inner = internals(s);
  const put = (name, header, bytes) => {
    const off = inner.pool.alloc(bytes.length);
    new Uint8Array(inner.pool.view(off, bytes.length)).set(bytes);
    inner.commit([{ type: 'put', name, offset: off, length: bytes.length, meta: encodeMeta('tfjs.tensor', header) }]);
  };
  put('tb', { v: 1, dtype: 'bool', shape: [3] }, Buffer.from([1, 0, 1]));
  put('tf', { v: 1, dtype: 'float32', shape: [2] }, le('f4', [1.5, -2]));
  const putKind = (kind, name, header, bytes) => {
    const off = inner.pool.alloc(bytes.length);
    new Uint8Array(inner.pool.view(off, bytes.length)).set(bytes);
    inner.commit([{ type: 'put', name, offset: off, length: bytes.length, meta: encodeMeta(kind, header) }]);
  };
  // a persistent variable keeps two buffers; `active` names the committed one, which is what exports
  putKind('tfjs.variable', 'tv', { v: 1, dtype: 'int32', shape: [2], buffers: 2, active: 1, trainable: true }, Buffer.concat([le('i4', [1, 2]), le('i4', [3, 4])]));
  // a checkpoint-group member (layout v 2): a meta-only entry whose buffers sit at `at` in each half of a slab entry
  const half = 4096;
  const slabBytes = Buffer.alloc(2 * half);
  le('i4', [7, 8]).copy(slabBytes, 64); // buffer 0 at 64
  le('i4', [9, 10]).copy(slabBytes, half + 64); // buffer 1 at half + 64: the committed one
  putKind('tfjs.slab', 'g/slab/0', { v: 1, half }, slabBytes);
  inner.commit([{ type: 'put', name: 'g/var/0', offset: 0, length: 0,
    meta: encodeMeta('tfjs.variable', { v: 2, dtype: 'int32', shape: [2], buffers: 2, active: 1, trainable: true, slab: 'g/slab/0', at: 64 }) }]);
  exportNpy(s, 'g/var/0', path.join(dir, 'gv.npy'));
  t.deepEqual(fs.readFileSync(path.join(dir, 'gv.npy')).subarray(128), le('i4', [9, 10]));
  putKind('tfjs.weight', 'tw', { spec: { name: 'dense/kernel', dtype: 'float32', shape: [1, 2] } }, le('f4', [5, 6]));
  putKind('tfjs.weight', 'tq', { spec: { name: 'q', dtype: 'float32', shape: [2], quantization: { dtype: 'uint8' } } }, Buffer.from([1, 2]));
  exportNpy(s, 'tv', path.join(dir, 'tv.npy'));
  t.deepEqual(fs.readFileSync(path.join(dir, 'tv.npy')),
    Buffer.concat([handHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 118), le('i4', [3, 4])]));
  exportNpy(s, 'tw', path.join(dir, 'tw.npy'));
  t.deepEqual(fs.readFileSync(path.join(dir, 'tw.npy')),
    Buffer.concat([handHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 118), le('f4', [5, 6])]));
  t.regex(t.throws(() => exportNpy(s, 'tq', path.join(dir, 'tq.npy'))).message, /quantized weight/);
  exportNpy(s, 'u', path.join(dir, 'u.npy'));
  exportNpy(s, 'b', path.join(dir, 'b.npy'));
  exportNpy(s, 'tb', path.join(dir, 'tb.npy'));
  exportNpy(s, 'tf', path.join(dir, 'tf.npy'));
  t.deepEqual(fs.readFileSync(path.join(dir, 'u.npy')),
    Buffer.concat([handHeader("{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", 118), le('u2', [1, 2, 65535])]));
  t.deepEqual(fs.readFileSync(path.join(dir, 'b.npy')),
    Buffer.concat([handHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 118), Buffer.from('hi')]));
  t.deepEqual(fs.readFileSync(path.join(dir, 'tb.npy')),
    Buffer.concat([handHeader("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 118), Buffer.from([1, 0, 1])]));
  t.deepEqual(fs.readFileSync(path.join(dir, 'tf.npy')).subarray(128), le('f4', [1.5, -2]));
});

test('importNpy: files written by numpy (C, Fortran, big-endian, bool, scalar, empty, version 2.0)', (t) => {
  const { dir, s } = fresh(t);
  const r = importNpy(writeNumpy(dir, 'f8'), s);
  t.deepEqual(r, { name: 'f8', dtype: 'float64', shape: [2, 3], order: 'C', bytes: 48, descr: '<f8' });
  t.deepEqual(all(s.f8), [0, 1, 2, 3, 4, 5]);
  t.true(s.f8.data instanceof Float64Array);

  importNpy(writeNumpy(dir, 'fort'), s, 'fort');
  t.deepEqual(all(s.fort), [0, 1, 2, 3, 4, 5], 'Fortran data read in the right order');
  t.deepEqual(s.inspect().find((x) => x.name === 'fort').shape, [2, 3]);
  t.deepEqual(Array.from(s.fort.data), [0, 3, 1, 4, 2, 5], 'stored column-major, as in the file');

  t.is(importNpy(writeNumpy(dir, 'be'), s).descr, '>u2');
  t.deepEqual(Array.from(s.be.data), [0, 1, 2, 3], 'big-endian swapped to the machine order');

  importNpy(writeNumpy(dir, 'bool'), s);
  t.true(s.bool.data instanceof Uint8Array);
  t.deepEqual(Array.from(s.bool.data), [1, 0, 1]);

  importNpy(writeNumpy(dir, 'scalar'), s);
  t.deepEqual(s.scalar.shape, []);
  t.is(s.scalar.get(), 2.5);

  importNpy(writeNumpy(dir, 'empty'), s);
  t.deepEqual(s.empty.shape, [3, 0]);
  t.is(s.empty.data.length, 0);

  const v2 = importNpy(writeNumpy(dir, 'v2'), s);
  t.is(v2.dtype, 'int16');
  t.deepEqual(Array.from(s.v2.data), [0, 1, 2]);
  t.deepEqual(readNpyHeader(path.join(dir, 'v2.npy')).version, [2, 0]);
});

test('importNpy: the variable survives close and re-open; export gives back the same data bytes', (t) => {
  const { dir, s } = fresh(t);
  const src = writeNumpy(dir, 'fort');
  importNpy(src, s, 'w');
  s.close();
  const s2 = shelf('npy', { pmemPath: dir });
  t.teardown(() => s2.close({ force: true }));
  t.deepEqual(all(s2.w), [0, 1, 2, 3, 4, 5]);
  const out = path.join(dir, 'w.npy');
  exportNpy(s2, 'w', out);
  const a = fs.readFileSync(src);
  const b = fs.readFileSync(out);
  t.deepEqual(b.subarray(parseNpyHeader(b).dataOffset), a.subarray(parseNpyHeader(a).dataOffset));
  t.true(parseNpyHeader(b).fortranOrder);
});

test('export then import of 40 MiB crosses the 16 MiB read/write steps and reports progress to the end', (t) => {
  const { dir, s } = fresh(t, 128);
  const n = 5 * 2 ** 20; // float64: 40 MiB
  s.big = ndarray([n], 'float64');
  const d = s.big.data;
  for (let i = 0; i < n; i += 4099) d[i] = i;
  d[n - 1] = -1;
  const f = path.join(dir, 'big.npy');
  const calls = [];
  exportNpy(s, 'big', f, { onProgress: (done, total) => calls.push([done, total]) });
  t.deepEqual(calls[calls.length - 1], [n * 8, n * 8]);
  t.true(calls.length >= 3);
  const got = [];
  importNpy(f, s, 'back', { onProgress: (done, total) => got.push([done, total]) });
  t.deepEqual(got[got.length - 1], [n * 8, n * 8]);
  t.is(Buffer.compare(Buffer.from(s.big.data.buffer, s.big.data.byteOffset, n * 8), Buffer.from(s.back.data.buffer, s.back.data.byteOffset, n * 8)), 0);
});

test('importNpy errors: not .npy, bad version, truncated, bad header, object/float16 data', (t) => {
  const { dir, s } = fresh(t);
  const w = (name, bytes) => { const f = path.join(dir, name); fs.writeFileSync(f, bytes); return f; };
  const good = Buffer.from(NUMPY.f8, 'base64');
  const cases = [
    ['magic.npy', Buffer.from('PK\x03\x04 this is a zip file, not npy'), 'ESHELF_CORRUPT', /does not start with the magic/],
    ['version.npy', Buffer.concat([good.subarray(0, 6), Buffer.from([9, 0]), good.subarray(8)]), 'ESHELF_CORRUPT', /version 9\.0/],
    ['short.npy', good.subarray(0, good.length - 3), 'ESHELF_CORRUPT', /truncated: its header describes 48 bytes of data but 45 follow/],
    ['tiny.npy', good.subarray(0, 5), 'ESHELF_CORRUPT', /only 5 bytes/],
    ['keys.npy', Buffer.concat([handHeader("{'descr': '<f8', 'shape': (2,), }", 118), Buffer.alloc(16)]), 'ESHELF_CORRUPT', /keys descr,shape/],
    ['syntax.npy', Buffer.concat([handHeader("{'descr': '<f8', 'fortran_order': Nope, 'shape': (2,), }", 118), Buffer.alloc(16)]), 'ESHELF_CORRUPT', /unexpected token/],
    ['shape.npy', Buffer.concat([handHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", 118), Buffer.alloc(16)]), 'ESHELF_CORRUPT', /non-negative integers/],
    ['obj.npy', Buffer.concat([handHeader("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 118), Buffer.alloc(8)]), 'ESHELF_TYPE', /never unpickles/],
    ['half.npy', Buffer.concat([handHeader("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", 118), Buffer.alloc(2)]), 'ESHELF_TYPE', /'<f2'/],
    ['struct.npy', Buffer.concat([handHeader("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }", 118), Buffer.alloc(4)]), 'ESHELF_TYPE', /structured/],
  ];
  const before = s.stats();
  for (const [name, bytes, code, re] of cases) {
    const f = w(name, bytes);
    const e = t.throws(() => importNpy(f, s), { instanceOf: ShelfError }, name);
    t.is(e.code, code, name);
    t.regex(e.message, re, name);
    t.true(e.message.includes(f), `${name}: the message names the file`);
  }
  const after = s.stats();
  t.is(after.used, before.used);
  t.is(after.reserved, 0, 'nothing left allocated');
  t.deepEqual(s.items, []);
});

test('importNpy errors: missing file, existing name (and replace), bad names, read-only shelf, options', (t) => {
  const { dir, s } = fresh(t);
  const f = writeNumpy(dir, 'f8');
  t.is(t.throws(() => importNpy(path.join(dir, 'nope.npy'), s)).code, 'ESHELF_NOT_FOUND');
  importNpy(f, s, 'a');
  const e = t.throws(() => importNpy(f, s, 'a'));
  t.is(e.code, 'ESHELF_EXISTS');
  t.regex(e.message, /'a' is already on shelf/);
  const old = s.a;
  importNpy(writeNumpy(dir, 'v2'), s, 'a', { replace: true });
  t.deepEqual(Array.from(s.a.data), [0, 1, 2]);
  t.is(old.get(1, 2), 5, 'a view of the replaced value stays valid');
  t.is(t.throws(() => importNpy(f, s, '.hidden')).code, 'ESHELF_NAME');
  t.is(t.throws(() => importNpy(f, s, 'items')).code, 'ESHELF_NAME');
  t.throws(() => importNpy(f, s, 'b', { repalce: true }), { instanceOf: TypeError, message: /Unknown option "repalce"/ });
  s.close();
  t.is(t.throws(() => importNpy(f, s, 'b')).code, 'ESHELF_CLOSED');
  const ro = shelf('npy', { pmemPath: dir, readOnly: true });
  t.teardown(() => ro.close());
  t.is(t.throws(() => importNpy(f, ro, 'b')).code, 'ESHELF_READONLY');
});

test('exportNpy errors: missing variable, values that are not arrays, unwritable path', (t) => {
  const { dir, s } = fresh(t);
  s.n = 42;
  s.o = { a: 1 };
  s.save({ w: new Float32Array(2) }, 'tree');
  t.is(t.throws(() => exportNpy(s, 'nope', path.join(dir, 'x.npy'))).code, 'ESHELF_NOT_FOUND');
  const e = t.throws(() => exportNpy(s, 'n', path.join(dir, 'x.npy')));
  t.is(e.code, 'ESHELF_TYPE');
  t.regex(e.message, /'n' is of kind 'scalar', not an array/);
  t.is(t.throws(() => exportNpy(s, 'o', path.join(dir, 'x.npy'))).code, 'ESHELF_TYPE');
  t.regex(t.throws(() => exportNpy(s, 'tree', path.join(dir, 'x.npy'))).message, /saved structure/);
  s.a = new Float64Array(1);
  const io = t.throws(() => exportNpy(s, 'a', path.join(dir, 'no', 'such', 'dir', 'a.npy')));
  t.is(io.code, 'ESHELF_IO');
  t.regex(io.message, /no[/\\]such[/\\]dir/);
  t.false(fs.existsSync(path.join(dir, 'x.npy')));
});

test('importNpy inside a transaction is deferred to its end and dropped by a rollback', (t) => {
  const { dir, s } = fresh(t);
  s.x = new Float64Array(2);
  const f = writeNumpy(dir, 'f8');
  t.throws(() => s.tx(['x'], () => {
    importNpy(f, s, 'inTx');
    t.true(s.has('inTx'), 'visible inside the transaction');
    throw new Error('boom');
  }), { message: 'boom' });
  t.false(s.has('inTx'));
  t.is(s.stats().reserved, 0);
  s.tx(['x'], () => importNpy(f, s, 'inTx'));
  t.deepEqual(all(s.inTx), [0, 1, 2, 3, 4, 5]);
});
