'use strict';
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { spawnSync } = require('node:child_process');
const { shelf, Shelf, ndarray, ShelfError } = require('@tsmm/core');
const { tempDir, freshShelf, nodeEnv } = require('./helpers');

test('shelf() creates NAME.data and NAME.map in pmemPath and re-opens with every variable available', (t) => {
  const dir = tempDir(t);
  const s = shelf('myShelf', { sizeMb: 8, pmemPath: dir, forceNew: true });
  t.true(s instanceof Shelf);
  t.is(s.name, 'myShelf');
  t.is(s.path, path.join(dir, 'myShelf'));
  t.true(fs.existsSync(path.join(dir, 'myShelf.data')));
  t.true(fs.existsSync(path.join(dir, 'myShelf.map')));
  t.true(fs.statSync(path.join(dir, 'myShelf.data')).size >= 8 * 2 ** 20);
  s.x = ndarray([4, 5], 'int32');
  s.x.set(2, 3, 7);
  s.x.persist();
  s.close();
  const r = shelf('myShelf', { sizeMb: 8, pmemPath: dir });
  t.deepEqual(r.items, ['x']);
  t.is(r.x.get(2, 3), 7);
  t.deepEqual(r.x.shape, [4, 5]);
  r.close();
  const r2 = shelf('myShelf', { pmemPath: dir }); // sizeMb is not needed to re-open
  t.is(r2.x.get(2, 3), 7);
  r2.close();
});

test('forceNew clears an existing shelf', (t) => {
  const dir = tempDir(t);
  const s = shelf('f', { sizeMb: 4, pmemPath: dir });
  s.a = 1;
  s.close();
  const r = shelf('f', { sizeMb: 4, pmemPath: dir, forceNew: true });
  t.deepEqual(r.items, []);
  r.close();
});

test('opening a missing shelf without sizeMb is ESHELF_NOT_FOUND naming the shelf', (t) => {
  const dir = tempDir(t);
  const e = t.throws(() => shelf('nope', { pmemPath: dir }), { instanceOf: ShelfError });
  t.is(e.code, 'ESHELF_NOT_FOUND');
  t.regex(e.message, /nope/);
  t.regex(e.message, /sizeMb/);
  t.false(fs.existsSync(path.join(dir, 'nope.data')));
});

test('unknown or misspelled options are a TypeError naming the option', (t) => {
  const dir = tempDir(t);
  const e1 = t.throws(() => shelf('o', { size_mb: 4, pmemPath: dir }), { instanceOf: TypeError });
  t.regex(e1.message, /"size_mb"/);
  t.regex(e1.message, /did you mean "sizeMb"/);
  const e2 = t.throws(() => shelf('o', { sizeMb: 4, pmem_path: dir }), { instanceOf: TypeError });
  t.regex(e2.message, /"pmem_path".*pmemPath/);
  const e3 = t.throws(() => shelf('o', { sizeMb: 4, pmemPath: dir, forcenew: true }), { instanceOf: TypeError });
  t.regex(e3.message, /forceNew/);
  const e4 = t.throws(() => shelf('o', { sizeMb: 4, pmemPath: dir, colour: 'red' }), { instanceOf: TypeError });
  t.regex(e4.message, /"colour"/);
  t.throws(() => shelf('o', { sizeMb: -1, pmemPath: dir }), { instanceOf: RangeError });
  t.throws(() => shelf('o', { sizeMb: 4, pmemPath: dir, readOnly: 'yes' }), { instanceOf: TypeError, message: /readOnly/ });
  t.throws(() => shelf('o', 'big'), { instanceOf: TypeError });
  t.deepEqual(fs.readdirSync(dir), []);
});

test('default pmemPath: $TSMM_PMEM_PATH, else ./.shelves created in the current directory', (t) => {
  const dir = tempDir(t);
  const envDir = path.join(dir, 'env');
  fs.mkdirSync(envDir);
  const script = "const {shelf}=require('@tsmm/core');const s=shelf('d',{sizeMb:2});s.v=1;console.log(s.path);s.close();";
  const withEnv = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env: nodeEnv({ TSMM_PMEM_PATH: envDir }) });
  t.is(withEnv.status, 0, withEnv.stderr);
  t.is(withEnv.stdout.trim(), path.join(envDir, 'd'));
  t.true(fs.existsSync(path.join(envDir, 'd.data')));
  const env = nodeEnv();
  delete env.TSMM_PMEM_PATH;
  const local = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env });
  t.is(local.status, 0, local.stderr);
  if (fs.existsSync('/mnt/pmem0')) {
    t.pass('a /mnt/pmem0 exists here: it is the default');
  } else {
    t.is(local.stdout.trim(), path.join(dir, '.shelves', 'd'));
    t.true(fs.existsSync(path.join(dir, '.shelves', 'd.map')));
  }
});

test('bad shelf names are ESHELF_NAME', (t) => {
  const dir = tempDir(t);
  for (const n of ['', '.', '..', 'a/b', 'a\0b']) {
    const e = t.throws(() => shelf(n, { sizeMb: 1, pmemPath: dir }), { instanceOf: ShelfError });
    t.is(e.code, 'ESHELF_NAME');
  }
  t.throws(() => shelf(42, { sizeMb: 1, pmemPath: dir }), { instanceOf: TypeError });
});

test('attribute and explicit forms are the same variables', (t) => {
  const { s } = freshShelf(t);
  s.a = new Float32Array([1, 2, 3]);
  s.put('b', 'text');
  t.true(s.has('a'));
  t.true('b' in s);
  t.false('c' in s);
  t.false(s.has('c'));
  t.is(s.c, undefined);
  t.is(s.get('b'), 'text');
  t.is(s.b, 'text');
  t.deepEqual(Array.from(s.get('a')), [1, 2, 3]);
  t.is(s.get('a'), s.a, 'the same cached view is handed out');
  t.deepEqual(Object.keys(s), ['a', 'b']);
  t.deepEqual(s.items, ['a', 'b']);
  t.deepEqual(Object.entries(s).map(([k]) => k), ['a', 'b']);
  t.true(delete s.a);
  t.deepEqual(Object.keys(s), ['b']);
  s.erase('b');
  t.deepEqual(s.items, []);
  t.is('items' in s, true, 'members are in the shelf too');
});

test('member names are reserved, including members other packages add to the prototype', (t) => {
  const { s } = freshShelf(t);
  for (const n of ['items', 'erase', 'close', 'used', 'tx', 'toString', 'constructor', 'hasOwnProperty']) {
    const e = t.throws(() => s.put(n, 1), { instanceOf: ShelfError });
    t.is(e.code, 'ESHELF_NAME');
  }
  const e = t.throws(() => { s.items = 1; }, { instanceOf: ShelfError });
  t.is(e.code, 'ESHELF_NAME');
  t.regex(e.message, /'items' is a member/);
  t.regex(e.message, /reserved: .*erase.*items.*/);
  t.throws(() => { delete s.erase; }, { code: 'ESHELF_NAME' });
  Shelf.prototype.variable = function variable() { return 'added'; };
  try {
    const e2 = t.throws(() => { s.variable = 3; }, { code: 'ESHELF_NAME' });
    t.regex(e2.message, /variable/);
    t.is(s.variable(), 'added');
  } finally {
    delete Shelf.prototype.variable;
  }
  s.variable = 3; // no longer a member
  t.is(s.variable, 3);
});

test('readOnly shelves read, and refuse writes with ESHELF_READONLY', (t) => {
  const { s, dir } = freshShelf(t, {}, 'ro');
  s.x = new Int16Array([5, 6]);
  s.close();
  const r = shelf('ro', { pmemPath: dir, readOnly: true });
  t.teardown(() => r.close());
  t.true(r.readOnly);
  t.deepEqual(Array.from(r.x), [5, 6]);
  for (const f of [() => { r.y = 1; }, () => r.erase('x'), () => r.replace('x', 1), () => r.txBegin(['x']), () => r.grow(64), () => r.save({ a: 1 }, 'p')]) {
    t.is(t.throws(f, { instanceOf: ShelfError }).code, 'ESHELF_READONLY');
  }
  t.deepEqual(r.items, ['x']);
});

test('close is idempotent; afterwards everything is ESHELF_CLOSED and views are detached', (t) => {
  const { s } = freshShelf(t);
  s.x = ndarray([100], 'float64');
  const x = s.x;
  x.set(3, 1.5);
  t.is(x.data.length, 100);
  s.close();
  s.close();
  t.true(s.closed);
  t.is(x.data.length, 0, 'view detached');
  t.is(x.data[3], undefined, 'no stale data');
  for (const f of [() => s.x, () => s.items, () => Object.keys(s), () => s.get('x'), () => { s.y = 1; }, () => s.used]) {
    t.is(t.throws(f, { instanceOf: ShelfError }).code, 'ESHELF_CLOSED');
  }
  t.regex(util.inspect(s), /closed/);
});

test('used is a whole percentage that grows with data; grow() keeps views valid', (t) => {
  const { s } = freshShelf(t, { sizeMb: 8 });
  const u0 = s.used;
  t.true(Number.isInteger(u0));
  s.x = ndarray([2 ** 20], 'float32'); // 4 MiB of 8
  t.true(s.used >= 50 && s.used <= 60, `used ${s.used}`);
  const x = s.x;
  x.set(5, 42);
  s.grow(32);
  t.true(s.used <= 15, `used ${s.used} after grow`);
  t.is(x.get(5), 42);
  t.is(x.data.length, 2 ** 20);
  s.y = ndarray([4 * 2 ** 20], 'float32'); // 16 MiB: fits only after the grow
  t.is(s.y.size, 4 * 2 ** 20);
  t.throws(() => s.grow(16), { instanceOf: RangeError });
});

test('inspect() lists every variable with kind, dtype, shape, bytes and offset, and prints a table', (t) => {
  const { s } = freshShelf(t);
  s.x = ndarray([10, 20], 'int64');
  s.n = 42;
  s.t = new Float32Array(7);
  s.o = { a: [1, 2] };
  const recs = s.inspect();
  t.deepEqual(recs.map((r) => r.name), ['n', 'o', 't', 'x']);
  const x = recs.find((r) => r.name === 'x');
  t.like(x, { kind: 'ndarray', dtype: 'int64', shape: [10, 20], bytes: 1600 });
  t.true(x.offset > 0);
  t.like(recs.find((r) => r.name === 'n'), { kind: 'scalar', dtype: 'number', shape: [], bytes: 0, offset: 0 });
  t.like(recs.find((r) => r.name === 't'), { kind: 'typed', dtype: 'float32', shape: [7], bytes: 28 });
  t.like(recs.find((r) => r.name === 'o'), { kind: 'v8' });
  const text = String(recs);
  t.regex(text, /^name\s+kind\s+dtype\s+shape\s+bytes\s+offset/);
  t.regex(text, /x\s+ndarray\s+int64\s+\[10,20\]\s+1600/);
  t.is(util.inspect(recs), text);
  t.regex(util.inspect(s), /x: ndarray<int64>\[10,20\]/);
});

test('TSMM_DEBUG=3 logs opens, commits and reads to stderr', (t) => {
  const dir = tempDir(t);
  const script = `const {shelf,ndarray}=require('@tsmm/core');const s=shelf('dbg',{sizeMb:2,pmemPath:${JSON.stringify(dir)},forceNew:true});s.x=ndarray([3]);s.x;s.x;s.close();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: nodeEnv({ TSMM_DEBUG: '3' }) });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /tsmm:core\[\d+\] opened shelf 'dbg'/);
  t.regex(r.stderr, /commit seq \d+: put x/);
  t.regex(r.stderr, /get 'x' \(cached/);
  t.regex(r.stderr, /closed 'dbg'/);
  const quiet = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: nodeEnv({ TSMM_DEBUG: '0' }) });
  t.is(quiet.status, 0, quiet.stderr);
  t.notRegex(quiet.stderr, /tsmm:core/);
});

test('a reader next to the writer sees committed changes after refresh(); replace keeps old views whole', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.x = new Int32Array([1, 2]);
  const r = shelf(name, { pmemPath: dir, readOnly: true });
  t.teardown(() => r.close());
  t.deepEqual(r.items, ['x']);
  const rx = r.x;
  t.is(r.x, rx, 'cached');
  t.false(s.refresh(), 'no-op on the writer');
  const old = s.x;
  s.replace('x', new Int32Array([7, 8, 9]));
  s.y = 'new';
  t.deepEqual(Array.from(old), [1, 2], 'the replaced value is untouched while referenced');
  t.deepEqual(Array.from(s.x), [7, 8, 9]);
  t.true(r.refresh());
  t.false(r.refresh());
  t.deepEqual(r.items, ['x', 'y']);
  t.not(r.x, rx, 'the stale cached value was dropped');
  t.deepEqual(Array.from(r.x), [7, 8, 9]);
  t.is(r.y, 'new');
});
