// The PyMM README, line by line, in TypeScript. Each step prints the Python it mirrors (`>>>`) and what tsmm does.
// Run: node examples/ts-run.js examples/basic-shelf/index.ts   (type-check: npx tsc -p examples)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import scijs from 'ndarray';
import ops from 'ndarray-ops';
import { shelf, ndarray, ShelfError } from '@tsmm/core';

const py = (line: string): void => console.log(`\n>>> ${line}`);
/** Sum of an int64 ndarray (ndarray-ops' sum starts from the number 0, which cannot be added to a bigint). */
const sumBig = (a: scijs.NdArray<any>): bigint => {
  let t = 0n;
  const walk = (d: number, idx: number[]): void => {
    if (d === a.shape.length) { t += a.get(...idx) as unknown as bigint; return; }
    for (let i = 0; i < a.shape[d]; i++) walk(d + 1, [...idx, i]);
  };
  walk(0, []);
  return t;
};
const show = (v: unknown): void => console.log(typeof v === 'string' ? v : util.inspect(v, { colors: false }));

// Shelves live in $TSMM_PMEM_PATH, else /mnt/pmem0 when it is writable, else ./.shelves (see docs/pmem.md).
// Here: a directory of our own, so the example never touches your shelves. The seed's 1024 MB becomes 64 MB.
const pmemPath = process.env.TSMM_PMEM_PATH ?? path.join(os.tmpdir(), 'tsmm-basic-shelf');
fs.mkdirSync(pmemPath, { recursive: true });

// ## Persistent Shelf Abstraction
py("s = pymm.shelf('myShelf', size_mb=1024, pmem_path='/mnt/pmem0', force_new=True)");
let s = shelf('myShelf', { sizeMb: 64, pmemPath, forceNew: true });
show(s);

py("s = pymm.shelf('myShelf', size_mb=1024, pmem_path='/mnt/pmem0')   # re-open");
s.close();
s = shelf('myShelf', { sizeMb: 64, pmemPath });
show(`$ ls -s ${pmemPath}\n` + fs.readdirSync(pmemPath).filter((f) => f.startsWith('myShelf.'))
  .map((f) => `${Math.ceil(fs.statSync(path.join(pmemPath, f)).blocks / 2)}K ${f}`).join('  '));

// ## Shelving Variables
py('s.x = pymm.ndarray((1000,1000), dtype=np.int64)');
s.x = ndarray([1000, 1000], 'int64');

py('s.x[1][1] = 9 # explicit slice assignment');
s.x.set(1, 1, 9n);
show(s.x.get(1, 1));

py('s.x.fill(3)   # in-place operation');
ops.assigns(s.x, 3n as any); // @types/ndarray-ops types scalars as number; int64 arrays take bigint
show(s.x.get(1, 1));

py('with open("array.dat", "rb") as source: source.readinto(memoryview(s.x))');
const dat = path.join(pmemPath, 'array.dat');
fs.writeFileSync(dat, Buffer.from(new BigInt64Array(1000 * 1000).fill(5n).buffer));
const fd = fs.openSync(dat, 'r');
fs.readSync(fd, s.x.data); // straight into shelf memory: no intermediate buffer
fs.closeSync(fd);
show(s.x.get(999, 999));

py('s.y = np.random.randint(1, 100, size=(1000,1000), dtype=np.int64)   # evaluated in DRAM, then copied');
const rnd = new BigInt64Array(1000 * 1000).map(() => BigInt(1 + Math.floor(Math.random() * 99)));
s.y = scijs(rnd, [1000, 1000]);

py('s.y');
show(s.y);

py('sum(s.y.diagonal())');
const diagonal = scijs(s.y.data, [1000], [1001], 0); // a strided view of shelf memory, no copy
show(sumBig(diagonal));

py('s.y = np.random.randint(1, 100, size=(1000,1000), dtype=np.int64)   # again: cannot be implicitly overwritten');
try {
  s.y = scijs(rnd, [1000, 1000]);
} catch (e) {
  show(`${(e as ShelfError).code}: ${(e as Error).message}`);
}

py("s.erase('y')");
s.erase('y');

py('s.items');
show(s.items);

py('dir(s)');
show(Object.keys(s));

// ### Usage
py('s.used');
show(s.used);

// ### References
s.y = scijs(rnd, [1000, 1000]);
py('Yref = s.y; Yref.sum()');
const Yref = s.y; // a volatile reference: a view of shelf memory, valid until s.close()
show(sumBig(Yref));

// ## Supported Types: PyMM stored only ndarrays; tsmm also stores scalars, strings, typed arrays, Buffers and
// structured values (objects, Maps, Dates, ... via v8.serialize). What cannot be stored is still an error:
py('s.z = 0');
s.z = 0;
show(s.z);
py('s.f = lambda: 0');
try {
  s.f = () => 0;
} catch (e) {
  show(`${(e as ShelfError).code}: ${(e as Error).message}`);
}

// ## Appendix: the large-array and load-a-large-file examples are examples/large-array (an array bigger than RAM).
py('s.z = np.memmap("file.out", dtype="float32", mode="r")   # load a file onto the shelf');
const file = path.join(pmemPath, 'file.out');
fs.writeFileSync(file, Buffer.from(new Float32Array(1 << 16).fill(1.5).buffer));
s.erase('z');
s.z = ndarray([fs.statSync(file).size / 4], 'float32');
const fz = fs.openSync(file, 'r');
fs.readSync(fz, s.z.data);
fs.closeSync(fz);
s.z.persist();
show(`${s.z.shape[0]} float32 on the shelf, sum ${ops.sum(s.z)}, ${s.used}% used`);

s.close();
console.log(`\nclosed; the shelf is at ${path.join(pmemPath, 'myShelf')}.{data,map} — look at it with: npx tsmm ls ${path.join(pmemPath, 'myShelf')}`);
