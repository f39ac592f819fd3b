'use strict';
// The seed README (PyMM), every code block, in TypeScript-equivalent JavaScript.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { spawnSync } = require('node:child_process');
const scijs = require('ndarray');
const ops = require('ndarray-ops');
const pymm = require('@tsmm/core');
const { tempDir, nodeEnv } = require('./helpers');

/** np.random.randint(1, 100, size=shape, dtype=int64) in DRAM. */
function randint(shape, seed) {
  let x = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    data[i] = BigInt(1 + (x % 99));
  }
  return scijs(data, shape);
}

function diagonalSum(a) {
  let sum = 0n;
  for (let i = 0; i < Math.min(...a.shape); i++) sum += a.get(i, i);
  return sum;
}

test('the seed README, line by line', (t) => {
  const dir = tempDir(t);

  // >>> import pymm  -> const pymm = require('@tsmm/core')
  t.is(typeof pymm.shelf, 'function');

  // >>> s = pymm.shelf('myShelf',size_mb=1024,pmem_path='/mnt/pmem0',force_new=True)
  let s = pymm.shelf('myShelf', { sizeMb: 1024, pmemPath: dir, forceNew: true });
  t.deepEqual(s.items, []);
  s.close();

  // >>> s = pymm.shelf('myShelf',size_mb=1024,pmem_path='/mnt/pmem0')   (normal re-open)
  s = pymm.shelf('myShelf', { sizeMb: 1024, pmemPath: dir });

  // $ ls -sh /mnt/pmem0   -> 1.0G myShelf.data  4.0K myShelf.map
  t.deepEqual(fs.readdirSync(dir).sort(), ['myShelf.data', 'myShelf.map']);
  t.true(fs.statSync(path.join(dir, 'myShelf.data')).size >= 1024 * 2 ** 20);

  // >>> s.x = pymm.ndarray((1000,1000),dtype=np.int64)
  s.x = pymm.ndarray([1000, 1000], 'int64');
  t.deepEqual(s.x.shape, [1000, 1000]);
  t.true(s.x.data instanceof BigInt64Array);
  t.is(s.x.get(999, 999), 0n, 'zero-filled');

  // >>> s.x[1][1] = 9   # explicit slice assignment
  s.x.set(1, 1, 9n);
  t.is(s.x.get(1, 1), 9n);
  // >>> s.x.fill(3)     # in-place operation
  ops.assigns(s.x, 3n);
  t.is(s.x.get(1, 1), 3n);
  t.is(s.x.get(500, 7), 3n);

  // >>> with open("array.dat", "rb") as source: source.readinto(memoryview(s.x))
  const file = path.join(dir, 'array.dat');
  const src = new BigInt64Array(1000 * 1000);
  for (let i = 0; i < src.length; i++) src[i] = BigInt(i);
  fs.writeFileSync(file, src);
  const fd = fs.openSync(file, 'r');
  const n = fs.readSync(fd, s.x.data);
  fs.closeSync(fd);
  t.is(n, 8 * 1000 * 1000);
  t.is(s.x.get(0, 5), 5n);
  t.is(s.x.get(999, 999), 999999n);
  s.x.persist();

  // >>> s.x = np.random.randint(1,100, size=(1000,1000), dtype=int64)
  // x exists now, so this is the "cannot be implicitly overwritten" case; the README means a fresh name: y.
  const y = randint([1000, 1000], 1);
  s.y = y; // evaluated in DRAM, copied onto the shelf
  t.not(s.y.data, y.data);
  t.is(s.y.get(3, 4), y.get(3, 4));

  // >>> s.y   -> shelved_ndarray([[75, 87, 59, ..., 27,  2, 33], ...])
  const shown = util.inspect(s.y);
  t.regex(shown, /^shelved_ndarray\(\[\[/);
  t.regex(shown, /\.\.\./);
  t.is(shown.split('\n').length, 7, shown);
  // >>> sum(s.y.diagonal())
  t.is(diagonalSum(s.y), diagonalSum(y));
  t.true(diagonalSum(s.y) > 1000n);

  // >>> s.y = np.random.randint(...)   -> error: cannot be implicitly overwritten
  const e = t.throws(() => { s.y = randint([1000, 1000], 2); }, { instanceOf: pymm.ShelfError });
  t.is(e.code, 'ESHELF_EXISTS');
  t.regex(e.message, /'y'/);
  t.regex(e.message, /erase/);
  t.regex(e.message, /replace/);
  t.is(s.y.get(3, 4), y.get(3, 4), 'the old value is untouched');

  // >>> s.items   -> ['x', 'y']
  t.deepEqual(s.items, ['x', 'y']);
  // >>> dir(s)    -> ... 'x', 'y'
  t.deepEqual(Object.keys(s), ['x', 'y']);

  // >>> s.used
  const used = s.used;
  t.true(Number.isInteger(used) && used >= 1 && used <= 3, `used ${used}`);

  // >>> Yref = s.y; Yref; Yref.sum()      (volatile references)
  const Yref = s.y;
  let total = 0n;
  for (let i = 0; i < Yref.data.length; i++) total += Yref.data[i];
  let expect = 0n;
  for (let i = 0; i < y.data.length; i++) expect += y.data[i];
  t.is(total, expect);
  // References cannot themselves be put on a shelf: assigning one copies it.
  s.y2 = Yref;
  t.not(s.y2.data, Yref.data);
  t.is(s.y2.get(10, 10), Yref.get(10, 10));
  s.erase('y2');

  // >>> s.erase('y')
  s.erase('y');
  t.deepEqual(s.items, ['x']);
  t.is(Yref.get(3, 4), y.get(3, 4), 'a volatile reference survives erase');
  s.y = randint([10, 10], 3); // the memory Yref holds is not reused while it is alive
  t.is(Yref.get(3, 4), y.get(3, 4));

  // Supported types: >>> s.y = 0   -> PyMM: "non-pymm type (y, <class 'int'>) cannot be put on the shelf".
  // tsmm supports numbers (and strings, bigints, booleans, structured data), so that line now works ...
  s.erase('y');
  s.y = 0;
  t.is(s.y, 0);
  // ... and the same error is raised for what no shelf can hold:
  const e2 = t.throws(() => { s.z = () => 0; }, { instanceOf: pymm.ShelfError });
  t.is(e2.code, 'ESHELF_TYPE');
  t.is(e2.message, 'non-shelf type (z, function) cannot be put on the shelf');
  t.false(s.has('z'));

  // Appendix: creating a large array (scaled: the 512 GiB pool becomes this 1 GiB one; 60.chunked.test.js does 8 GiB)
  s.big = pymm.ndarray([100, 100, 100, 50], 'uint8');
  t.is(s.big.size, 100 * 100 * 100 * 50);
  t.true(s.used >= 5, `used ${s.used}`);
  t.is(Math.trunc(s.big.size * s.big.data.BYTES_PER_ELEMENT / 2 ** 20), 47);

  // Appendix: loading a large file (np.memmap) -> read it and assign; the right side is copied onto the shelf
  const f32 = path.join(dir, 'file.out');
  fs.writeFileSync(f32, new Float32Array([1.5, 2.5, 3.5, 4.5]));
  const mm = fs.readFileSync(f32);
  s.zz = new Float32Array(mm.buffer, mm.byteOffset, mm.byteLength / 4);
  t.deepEqual(Array.from(s.zz), [1.5, 2.5, 3.5, 4.5]);

  // Durable across restarts: close, re-open, everything is there with no loading step.
  s.close();
  s = pymm.shelf('myShelf', { pmemPath: dir });
  t.deepEqual(s.items, ['big', 'x', 'y', 'zz']);
  t.is(s.x.get(999, 999), 999999n);
  t.is(s.y, 0);
  t.deepEqual(Array.from(s.zz), [1.5, 2.5, 3.5, 4.5]);
  s.close();
});

test('Debugging: TSMM_DEBUG=3 (PYMM_DEBUG=3) traces to stderr', (t) => {
  const dir = tempDir(t);
  const r = spawnSync(process.execPath, ['-e',
    `const p=require('@tsmm/core');const s=p.shelf('myShelf',{sizeMb:4,pmemPath:${JSON.stringify(dir)},forceNew:true});s.x=p.ndarray([10,10],'int64');s.erase('x');s.close()`],
  { encoding: 'utf8', env: nodeEnv({ TSMM_DEBUG: '3' }) });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /opened shelf 'myShelf'/);
  t.regex(r.stderr, /erase x/);
});
