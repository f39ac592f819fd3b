'use strict';
// An 8 GiB array (beyond Node's 4 GiB buffer cap): chunked .data, windows, ndarray indexing across the boundary,
// durability across processes. Needs ~8 GiB of free disk in os.tmpdir() (reserved, not written) but not 8 GiB of RAM:
// only a few pages are ever written; creating it reads the extent once to make sure it is zero (clean page cache).
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { spawnSync } = require('node:child_process');
const scijs = require('ndarray');
const ops = require('ndarray-ops');
const { shelf, ndarray, ChunkedData, MAX_VIEW_BYTES } = require('@tsmm/core');
const { nodeEnv } = require('./helpers');

const GiB = 2 ** 30;

test('an 8 GiB uint8 array is chunked into 4 GiB windows and works as an ndarray', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = shelf('big', { sizeMb: 8 * 1024 + 16, pmemPath: dir, forceNew: true });
  t.teardown(() => s.close({ force: true }));

  s.x = ndarray([2, 4 * GiB], 'uint8'); // PyMM: s.x = pymm.ndarray((2, 4G), dtype=np.uint8)
  const x = s.x;
  t.is(x.size, 8 * GiB);
  t.true(x.data instanceof ChunkedData);
  t.is(x.data.length, 8 * GiB);
  t.is(x.data.dtype, 'uint8');
  const chunks = x.chunks();
  t.is(chunks.length, 2);
  for (const c of chunks) {
    t.true(c instanceof Uint8Array);
    t.is(c.byteLength, MAX_VIEW_BYTES);
  }
  t.is(s.inspect()[0].bytes, 8 * GiB);
  t.true(s.used >= 99);

  // zero-filled, and element access across the window boundary
  t.is(x.get(0, 0), 0);
  t.is(x.get(1, 4 * GiB - 1), 0);
  x.set(0, 4 * GiB - 1, 7);   // last byte of window 0
  x.set(1, 0, 9);             // first byte of window 1
  x.set(1, 4 * GiB - 1, 11);  // the very last byte
  t.is(chunks[0][4 * GiB - 1], 7);
  t.is(chunks[1][0], 9);
  t.is(x.data.get(8 * GiB - 1), 11);
  t.is(x.index(1, 0), 4 * GiB);

  // views derived with pick/lo keep exact offsets beyond 2^31 elements
  const row1 = x.pick(1, null);
  t.is(row1.offset, 4 * GiB);
  t.is(row1.get(0), 9);
  const tail = x.lo(1, 4 * GiB - 3);
  t.is(tail.get(0, 2), 11);
  row1.set(5, 13);
  t.is(chunks[1][5], 13);

  // bulk work per window at full speed: a window is a plain typed array, so ndarray-ops run on it directly
  const w1 = scijs(chunks[1]).hi(4096).lo(100);
  ops.assigns(w1, 3);
  t.is(x.get(1, 100), 3);
  t.is(x.get(1, 4095), 3);
  t.is(x.get(1, 4096), 0);
  t.is(ops.sum(scijs(chunks[1]).hi(8192)), 3 * (4096 - 100) + 9 + 13);
  x.persistOffset(4 * GiB, 8192);
  x.persistOffset(4 * GiB - 1, 1);
  x.persistOffset(8 * GiB - 1, 1);
  t.throws(() => x.persistOffset(8 * GiB - 1, 2), { instanceOf: RangeError });
  t.is(util.inspect(x), 'shelved_ndarray([[ 0,  0,  0, ...,  0,  0,  7],\n                 [ 9,  0,  0, ...,  0,  0, 11]], dtype=uint8)');

  // a separate process re-opens it and reads the same bytes, without loading anything
  s.close();
  const script = `const {shelf}=require('@tsmm/core');const s=shelf('big',{pmemPath:${JSON.stringify(dir)},readOnly:true});` +
    'const x=s.x;console.log(JSON.stringify([x.shape,x.data.constructor.name,x.chunks().length,x.get(0,4*2**30-1),x.get(1,0),x.get(1,5),x.get(1,100),x.get(1,4*2**30-1),x.get(0,12345)]));s.close();';
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: nodeEnv() });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), [[2, 4 * GiB], 'ChunkedData', 2, 7, 9, 13, 3, 11, 0]);
});

test('chunked data: get/set map element i to window floor(i / perChunk) for wider dtypes too', (t) => {
  // A ChunkedData over small windows behaves like the real thing (same code path, no 4 GiB needed).
  const w = [new Uint8Array(16), new Uint8Array(16), new Uint8Array(8)];
  const d = new ChunkedData('float64', w);
  t.is(d.length, 5);
  t.is(d.perChunk, 2);
  d.set(2, 1.5);
  d.set(4, -2);
  t.is(new Float64Array(w[1].buffer)[0], 1.5);
  t.is(d.get(4), -2);
  t.is(d.get(5), undefined);
  const a = scijs(d, [5]);
  ops.assigns(a, 0.25);
  t.deepEqual(d.chunks().map((c) => Array.from(c)), [[0.25, 0.25], [0.25, 0.25], [0.25]]);
  t.is(ops.sum(a), 1.25);
});
