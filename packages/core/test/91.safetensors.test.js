'use strict';
// safetensors export and import, checked against files built by hand from the format description
// (8-byte LE header length, JSON header, data_offsets relative to the byte buffer, no holes), and one test per way a
// file can break the format.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  shelf, ndarray, exportSafetensors, importSafetensors, safetensorsHeader, parseSafetensorsHeader, readSafetensorsHeader, ShelfError,
} = require('@tsmm/core');

function fresh(t, name = 'st') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  const s = shelf(name, { sizeMb: 16, pmemPath: dir, forceNew: true });
  t.teardown(() => {
    s.close({ force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, s };
}

/** A safetensors file from a header text (padded with `pad` spaces) and the byte buffer. */
function file(headerText, data, pad = 0) {
  const h = Buffer.from(headerText + ' '.repeat(pad), 'utf8');
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([n, h, data]);
}

function f64(...v) { const b = Buffer.alloc(v.length * 8); v.forEach((x, i) => b.writeDoubleLE(x, i * 8)); return b; }
function f32(...v) { const b = Buffer.alloc(v.length * 4); v.forEach((x, i) => b.writeFloatLE(x, i * 4)); return b; }
function i16(...v) { const b = Buffer.alloc(v.length * 2); v.forEach((x, i) => b.writeInt16LE(x, i * 2)); return b; }
function u64(...v) { const b = Buffer.alloc(v.length * 8); v.forEach((x, i) => b.writeBigUInt64LE(BigInt(x), i * 8)); return b; }

// The header of the three-tensor file below, written out by hand: __metadata__ first, then tensors by item size
// (F64, F32, U8) so each starts aligned, offsets relative to the byte after the header, no holes. 225 bytes of JSON,
// padded with 7 spaces to 232 so the buffer starts at 8 + 232 = 240, a multiple of 8.
const HEADER = '{"__metadata__":{"format":"np","source":"tsmm!"},' +
  '"bias":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},' +
  '"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},' +
  '"mask":{"dtype":"U8","shape":[3],"data_offsets":[32,35]}}';

test('exportSafetensors: three tensors give exactly the hand-built file (order, offsets, padding, metadata)', (t) => {
  t.is(Buffer.byteLength(HEADER), 225);
  const { dir, s } = fresh(t);
  s.weight = ndarray([2, 2], 'float32');
  s.weight.set(0, 0, 1); s.weight.set(0, 1, 2); s.weight.set(1, 0, 3); s.weight.set(1, 1, 4);
  s.bias = new Float64Array([0.5, -0.5]);
  s.mask = Buffer.from([1, 0, 1]);
  const out = path.join(dir, 'm.safetensors');
  const r = exportSafetensors(s, ['weight', 'bias', 'mask'], out, { metadata: { source: 'tsmm!', format: 'np' } });
  const expected = file(HEADER, Buffer.concat([f64(0.5, -0.5), f32(1, 2, 3, 4), Buffer.from([1, 0, 1])]), 7);
  t.is(expected.readBigUInt64LE(0), 232n);
  t.deepEqual(fs.readFileSync(out), expected);
  t.deepEqual(r.names, ['bias', 'weight', 'mask']);
  t.is(r.bytes, expected.length);
});

test('safetensorsHeader: the JSON is built in order even for integer-like names; empty metadata is kept', (t) => {
  const { bytes, tensors } = safetensorsHeader([{ name: '10', dtype: 'int8', shape: [1] }, { name: '2', dtype: 'int8', shape: [0] }], {});
  const n = Number(bytes.readBigUInt64LE(0));
  t.is((8 + n) % 8, 0);
  t.is(bytes.subarray(8).toString().trimEnd(),
    '{"__metadata__":{},"10":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"2":{"dtype":"I8","shape":[0],"data_offsets":[1,1]}}');
  t.deepEqual(tensors.map((x) => x.name), ['10', '2']);
  t.throws(() => safetensorsHeader([{ name: '__metadata__', dtype: 'int8', shape: [1] }]), { code: 'ESHELF_NAME' });
  t.throws(() => safetensorsHeader([], { a: 1 }), { instanceOf: TypeError, message: /"a" to be a string/ });
});

test('importSafetensors: a hand-built file (F64, F32, U8, BOOL, I16, U64, empty tensor, padding) lands as ndarrays', (t) => {
  const { dir, s } = fresh(t);
  const header = '{"__metadata__":{"k":"v"},' +
    '"d":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]},' +
    '"big":{"dtype":"U64","shape":[1],"data_offsets":[16,24]},' +
    '"f":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},' +
    '"none":{"dtype":"F32","shape":[0,4],"data_offsets":[32,32]},' +
    '"h":{"dtype":"I16","shape":[2],"data_offsets":[32,36]},' +
    '"flags":{"dtype":"BOOL","shape":[3],"data_offsets":[36,39]},' +
    '"s":{"dtype":"U8","shape":[],"data_offsets":[39,40]}}';
  const data = Buffer.concat([f64(1.25, -2), u64(2n ** 63n + 5n), f32(3.5, 4), i16(-7, 300), Buffer.from([1, 0, 1]), Buffer.from([200])]);
  const f = path.join(dir, 'x.safetensors');
  fs.writeFileSync(f, file(header, data, 5));
  const r = importSafetensors(f, s, 'm/');
  t.deepEqual(r.names, ['m/d', 'm/big', 'm/f', 'm/none', 'm/h', 'm/flags', 'm/s']);
  t.deepEqual(r.metadata, { k: 'v' });
  t.is(r.bytes, 40);
  t.deepEqual(s['m/d'].shape, [1, 2]);
  t.deepEqual(Array.from(s['m/d'].data), [1.25, -2]);
  t.is(s['m/big'].data[0], 2n ** 63n + 5n);
  t.true(s['m/big'].data instanceof BigUint64Array);
  t.deepEqual(Array.from(s['m/f'].data), [3.5, 4]);
  t.deepEqual(s['m/none'].shape, [0, 4]);
  t.deepEqual(Array.from(s['m/h'].data), [-7, 300]);
  t.true(s['m/flags'].data instanceof Uint8Array);
  t.deepEqual(Array.from(s['m/flags'].data), [1, 0, 1]);
  t.is(s['m/s'].get(), 200);
  const h = readSafetensorsHeader(f);
  t.is(h.dataStart, 8 + Buffer.byteLength(header) + 5);
  t.is(h.dataBytes, 40);
});

test('round trip through two shelves: prefix selection, rename, F order written as C, non-arrays skipped', (t) => {
  const { dir, s } = fresh(t);
  s['net/w'] = ndarray([2, 3], 'float64', { order: 'F' });
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) s['net/w'].set(i, j, i * 3 + j);
  s['net/b'] = new Int32Array([7, 8, 9]);
  s['net/config'] = { layers: 2 };
  s.other = new Float32Array(1);
  const out = path.join(dir, 'net.safetensors');
  const r = exportSafetensors(s, 'net/', out, { rename: (n) => n.slice(4) });
  t.deepEqual(r.names, ['net/w', 'net/b']);
  t.deepEqual(r.skipped, ['net/config']);
  const h = readSafetensorsHeader(out);
  t.deepEqual(h.tensors.map((x) => [x.name, x.dtype, x.shape]), [['w', 'F64', [2, 3]], ['b', 'I32', [3]]]);
  const bytes = fs.readFileSync(out);
  t.deepEqual(bytes.subarray(h.dataStart, h.dataStart + 48), f64(0, 1, 2, 3, 4, 5), 'row-major bytes');

  const s2 = shelf('other', { sizeMb: 4, pmemPath: dir, forceNew: true });
  t.teardown(() => s2.close({ force: true }));
  importSafetensors(out, s2);
  t.deepEqual(s2.items, ['b', 'w']);
  t.is(s2.w.get(1, 2), 5);
  t.deepEqual(Array.from(s2.b.data), [7, 8, 9]);
  s2.close();
  const s3 = shelf('other', { pmemPath: dir, readOnly: true });
  t.teardown(() => s3.close());
  t.is(s3.w.get(1, 0), 3, 'imported arrays survive a re-open');
});

test('exportSafetensors errors: nothing selected, non-array named, name collisions, bad metadata, unknown option', (t) => {
  const { dir, s } = fresh(t);
  s.a = new Float32Array(2);
  s.n = 3;
  const out = path.join(dir, 'o.safetensors');
  t.is(t.throws(() => exportSafetensors(s, 'zzz', out)).code, 'ESHELF_NOT_FOUND');
  t.is(t.throws(() => exportSafetensors(s, ['a', 'n'], out)).code, 'ESHELF_TYPE');
  t.is(t.throws(() => exportSafetensors(s, ['a', 'a'], out)).code, 'ESHELF_EXISTS');
  s.b = new Float32Array(1);
  t.is(t.throws(() => exportSafetensors(s, ['a', 'b'], out, { rename: () => 'same' })).code, 'ESHELF_EXISTS');
  t.throws(() => exportSafetensors(s, 'a', out, { metadata: { v: 2 } }), { instanceOf: TypeError });
  t.throws(() => exportSafetensors(s, 'a', out, { meta: {} }), { instanceOf: TypeError, message: /Unknown option "meta"/ });
  t.false(fs.existsSync(out));
});

// One case per way a file can break the format (the reference implementation's error list).
const T = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
const BAD = [
  ['header length beyond 100 MB', () => { const b = Buffer.alloc(16); b.writeBigUInt64LE(100000001n); return b; }, 'ESHELF_CORRUPT', /more than 100000000 bytes/],
  ['header length beyond the file', () => { const b = Buffer.alloc(16); b.writeBigUInt64LE(9n); return b; }, 'ESHELF_CORRUPT', /exceeds the 8 bytes/],
  ['shorter than 8 bytes', () => Buffer.from([1, 0, 0]), 'ESHELF_CORRUPT', /only 3 bytes/],
  ['not UTF-8', () => file('{"\xff":1}', Buffer.alloc(0)).fill(0xff, 10, 11), 'ESHELF_CORRUPT', /not valid UTF-8/],
  ['not starting with {', () => file(` ${T}`, Buffer.alloc(8)), 'ESHELF_CORRUPT', /does not start with "\{"/],
  ['invalid JSON', () => file('{"a":', Buffer.alloc(0)), 'ESHELF_CORRUPT', /not valid JSON/],
  ['a tensor that is not an object', () => file('{"a":[1]}', Buffer.alloc(0)), 'ESHELF_CORRUPT', /tensor 'a' is not an object/],
  ['duplicate key', () => file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', Buffer.alloc(1)), 'ESHELF_CORRUPT', /names 'a' twice/],
  ['missing dtype', () => file('{"a":{"shape":[2],"data_offsets":[0,8]}}', Buffer.alloc(8)), 'ESHELF_CORRUPT', /tensor 'a' has no dtype/],
  ['bad shape', () => file('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', Buffer.alloc(8)), 'ESHELF_CORRUPT', /no valid shape/],
  ['bad data_offsets', () => file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', Buffer.alloc(8)), 'ESHELF_CORRUPT', /no valid data_offsets/],
  ['a hole before a tensor', () => file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', Buffer.alloc(12)), 'ESHELF_CORRUPT', /expected it to start at 0/],
  ['overlapping tensors', () => file('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', Buffer.alloc(3)), 'ESHELF_CORRUPT', /tensor 'b' has data_offsets \[1, 3\], expected it to start at 2/],
  ['offsets that disagree with the shape', () => file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', Buffer.alloc(8)), 'ESHELF_CORRUPT', /needs 12 bytes but data_offsets \[0, 8\] hold 8/],
  ['bytes after the last tensor', () => file(T, Buffer.alloc(9)), 'ESHELF_CORRUPT', /cover 8 bytes of data but 9 follow/],
  ['a truncated buffer', () => file(T, Buffer.alloc(7)), 'ESHELF_CORRUPT', /cover 8 bytes of data but 7 follow/],
  ['metadata that is not strings', () => file('{"__metadata__":{"a":1}}', Buffer.alloc(0)), 'ESHELF_CORRUPT', /__metadata__ is not an object of strings/],
  ['a float16 tensor', () => file('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', Buffer.alloc(4)), 'ESHELF_TYPE', /tensor 'a' of .* is F16/],
  ['an unknown dtype', () => file('{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,4]}}', Buffer.alloc(4)), 'ESHELF_TYPE', /is Q7/],
  ['a tensor name that cannot be a variable', () => file('{".a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', Buffer.alloc(1)), 'ESHELF_NAME', /cannot start with "\."/],
];

test('importSafetensors: every way to break the format has its own error, and nothing is left on the shelf', (t) => {
  const { dir, s } = fresh(t);
  for (const [what, make, code, re] of BAD) {
    const f = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(f, make());
    const e = t.throws(() => importSafetensors(f, s), { instanceOf: ShelfError }, what);
    t.is(e.code, code, what);
    t.regex(e.message, re, what);
    if (code === 'ESHELF_CORRUPT' || code === 'ESHELF_TYPE') t.true(e.message.includes(f), `${what}: the message names the file`);
  }
  t.deepEqual(s.items, []);
  t.is(s.stats().reserved, 0);
  t.is(s.stats().used, 0);
});

test('importSafetensors is all or nothing: one taken name means no tensor is imported; replace takes them all', (t) => {
  const { dir, s } = fresh(t);
  s.c = new Uint8Array([42]);
  const f = path.join(dir, 'x.safetensors');
  fs.writeFileSync(f, file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"c":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}', Buffer.from([1, 2, 3])));
  const e = t.throws(() => importSafetensors(f, s));
  t.is(e.code, 'ESHELF_EXISTS');
  t.deepEqual(s.items, ['c']);
  t.is(s.stats().reserved, 0);
  importSafetensors(f, s, '', { replace: true });
  t.deepEqual(s.items, ['a', 'b', 'c']);
  t.is(s.c.get(0), 3);
  t.is(t.throws(() => importSafetensors(path.join(dir, 'missing.safetensors'), s)).code, 'ESHELF_NOT_FOUND');
});

test('parsers never throw anything but ShelfError on mutated files (small fuzz, fixed seed)', (t) => {
  const good = file(HEADER, Buffer.alloc(35), 7);
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(good);
    const k = 1 + rnd(4);
    for (let j = 0; j < k; j++) b[8 + rnd(b.length - 8)] = rnd(256);
    const cut = rnd(10) === 0 ? b.subarray(0, rnd(b.length)) : b;
    try {
      if (cut.length >= 8) {
        const n = Number(cut.readBigUInt64LE(0));
        parseSafetensorsHeader(cut.subarray(8, 8 + Math.min(n, cut.length - 8)), cut.length);
      }
      parsed++;
    } catch (e) {
      if (!(e instanceof ShelfError)) t.fail(`mutation ${i} threw ${e && e.name}: ${e && e.message}`);
    }
  }
  t.true(parsed > 0);
  t.pass();
});
