'use strict';
// Pool.open / Pool.exists / Pool.destroy: create, open, forceNew, readOnly, both layouts, names, options, files.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { Pool, ShelfError, tempDir, openPool, pattern, putBytes, readAt, dump, throwsShelf, ls } = require('./helpers');

const MiB = 1 << 20;
const LAYOUTS = ['pair', 'single'];

/** The files a pool of `layout` at `p` consists of. */
function filesOf(p, layout) {
  return layout === 'pair' ? [`${p}.data`, `${p}.map`] : [p];
}

/** Three entries with data and meta (one of them meta-only). */
function populate(pool) {
  putBytes(pool, 'alpha', pattern('alpha', 1000), Buffer.from('meta-a'));
  putBytes(pool, 'beta/β', pattern('beta', 8192), Buffer.from([0, 1, 2, 255]));
  putBytes(pool, 'scalar', Buffer.alloc(0), Buffer.from('{"v":42}'));
}

for (const layout of LAYOUTS) {
  test(`${layout}: create makes the pool files and an empty, writable pool`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    t.false(Pool.exists(p, layout));
    const pool = openPool(t, p, { size: 4 * MiB, layout });
    t.is(pool.layout, layout);
    t.false(pool.readOnly);
    t.false(pool.closed);
    t.deepEqual(pool.files, filesOf(p, layout));
    for (const f of filesOf(p, layout)) t.true(fs.statSync(f).isFile(), f);
    // nothing else is left in the directory (no temp files, no extra lock files)
    t.deepEqual(ls(dir), filesOf(p, layout).map((f) => path.basename(f)).sort());
    const s = pool.stats();
    t.is(s.layout, layout);
    t.false(s.readOnly);
    t.is(s.entries, 0);
    t.is(s.used, 0);
    t.is(s.reserved, 0);
    t.true(s.size >= 4 * MiB, `size ${s.size}`);
    t.true(s.dataStart >= 4096 && s.dataStart % 4096 === 0, `dataStart ${s.dataStart}`);
    t.is(pool.size, s.size);
    t.deepEqual(pool.names(), []);
    t.true(Pool.exists(p, layout));
  });

  test(`${layout}: re-open keeps entries, data and meta; size option is ignored when opening`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    const pool = Pool.open(p, { size: 4 * MiB, layout });
    populate(pool);
    const before = dump(pool);
    const size = pool.size;
    pool.close();
    t.true(pool.closed);

    const again = openPool(t, p, { layout });
    t.deepEqual(dump(again), before);
    t.is(again.size, size);
    t.deepEqual(readAt(again, again.get('alpha').offset, 1000), pattern('alpha', 1000));
    t.deepEqual(again.get('scalar').meta, Buffer.from('{"v":42}'));
    again.close();

    const withSize = openPool(t, p, { layout, size: 64 * MiB, create: false });
    t.deepEqual(dump(withSize), before);
    t.is(withSize.size, size, 'size is ignored for an existing pool');
  });

  test(`${layout}: forceNew erases an existing pool and creates it anew`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    const pool = Pool.open(p, { size: 4 * MiB, layout });
    populate(pool);
    pool.close();

    const fresh = Pool.open(p, { size: 8 * MiB, layout, forceNew: true });
    t.deepEqual(fresh.names(), []);
    t.is(fresh.stats().entries, 0);
    t.true(fresh.size >= 8 * MiB);
    fresh.close();

    const again = openPool(t, p, { layout });
    t.deepEqual(again.names(), [], 'the erase is durable');
    t.true(again.size >= 8 * MiB);
    t.deepEqual(ls(dir), filesOf(p, layout).map((f) => path.basename(f)).sort());
  });

  test(`${layout}: forceNew on a missing pool creates it`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    const pool = openPool(t, p, { size: 2 * MiB, layout, forceNew: true });
    t.deepEqual(pool.names(), []);
    t.true(Pool.exists(p, layout));
  });

  test(`${layout}: readOnly opens an existing pool for reading`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    const pool = Pool.open(p, { size: 4 * MiB, layout });
    populate(pool);
    const before = dump(pool);
    pool.close();

    const ro = openPool(t, p, { layout, readOnly: true });
    t.true(ro.readOnly);
    t.true(ro.stats().readOnly);
    t.deepEqual(dump(ro), before);
    t.deepEqual(readAt(ro, ro.get('beta/β').offset, 8192), pattern('beta', 8192));
  });

  test(`${layout}: readOnly on a missing pool is ESHELF_NOT_FOUND and creates nothing`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    throwsShelf(t, () => Pool.open(p, { layout, readOnly: true }), 'ESHELF_NOT_FOUND', ['p']);
    throwsShelf(t, () => Pool.open(p, { layout, readOnly: true, size: MiB }), 'ESHELF_NOT_FOUND', ['p']);
    t.deepEqual(ls(dir), []);
  });

  test(`${layout}: create without size is ESHELF_NOT_FOUND and creates nothing`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    throwsShelf(t, () => Pool.open(p, { layout }), 'ESHELF_NOT_FOUND', ['p']);
    throwsShelf(t, () => Pool.open(p), 'ESHELF_NOT_FOUND', ['p']);
    t.deepEqual(ls(dir), []);
    t.false(Pool.exists(p, layout));
  });

  test(`${layout}: create:false on a missing pool is ESHELF_NOT_FOUND and creates nothing`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    throwsShelf(t, () => Pool.open(p, { layout, size: MiB, create: false }), 'ESHELF_NOT_FOUND', ['p']);
    t.deepEqual(ls(dir), []);
  });

  test(`${layout}: files are created 0600 whatever the umask`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    const old = process.umask(0);
    let pool;
    try {
      pool = Pool.open(p, { size: MiB, layout });
    } finally {
      process.umask(old);
    }
    putBytes(pool, 'x', pattern('x', 100));
    pool.compact(); // a rewritten index must keep the mode too
    pool.close();
    for (const f of filesOf(p, layout)) {
      t.is(fs.statSync(f).mode & 0o777, 0o600, `${f} mode ${(fs.statSync(f).mode & 0o777).toString(8)}`);
    }
  });

  test(`${layout}: Pool.exists and Pool.destroy`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    t.false(Pool.exists(p, layout));
    const pool = Pool.open(p, { size: MiB, layout });
    putBytes(pool, 'x', pattern('x', 10));
    t.true(Pool.exists(p, layout));
    throwsShelf(t, () => Pool.destroy(p, layout), 'ESHELF_LOCKED', ['p']);
    t.true(Pool.exists(p, layout), 'a refused destroy removes nothing');
    pool.close();
    Pool.destroy(p, layout);
    t.false(Pool.exists(p, layout));
    t.deepEqual(ls(dir), []);
    // a new pool can be made at the same path and starts empty
    const again = openPool(t, p, { size: MiB, layout });
    t.deepEqual(again.names(), []);
  });

  test(`${layout}: close is idempotent and sets closed`, (t) => {
    const dir = tempDir(t);
    const pool = Pool.open(path.join(dir, 'p'), { size: MiB, layout });
    t.false(pool.closed);
    pool.close();
    t.true(pool.closed);
    t.notThrows(() => pool.close());
    t.true(pool.closed);
  });

  test(`${layout}: a symlink at the pool path is refused (O_NOFOLLOW) and its target is untouched`, (t) => {
    const dir = tempDir(t);
    // a real pool that the symlinks point at
    const real = path.join(dir, 'real');
    const pool = Pool.open(real, { size: MiB, layout });
    putBytes(pool, 'x', pattern('x', 100));
    pool.close();
    const before = filesOf(real, layout).map((f) => fs.readFileSync(f));

    const p = path.join(dir, 'p');
    const targets = filesOf(real, layout);
    filesOf(p, layout).forEach((f, i) => fs.symlinkSync(targets[i], f));
    for (const opts of [{ layout }, { layout, size: MiB }, { layout, readOnly: true }, { layout, size: MiB, forceNew: true }]) {
      const err = t.throws(() => Pool.open(p, opts), { instanceOf: ShelfError }, JSON.stringify(opts));
      if (err) {
        t.is(err.code, 'ESHELF_NAME', `${JSON.stringify(opts)}: ${err.message}`);
        t.true(err.message.includes(path.basename(p)), err.message);
      }
    }
    filesOf(real, layout).forEach((f, i) => t.deepEqual(fs.readFileSync(f), before[i], `${f} unchanged`));

    // a dangling symlink: the target must not be created through it
    const q = path.join(dir, 'q');
    const ghost = filesOf(path.join(dir, 'ghost'), layout);
    filesOf(q, layout).forEach((f, i) => fs.symlinkSync(ghost[i], f));
    t.throws(() => Pool.open(q, { size: MiB, layout }), { instanceOf: ShelfError });
    for (const g of ghost) t.false(fs.existsSync(g), `${g} was created through a symlink`);
  });
}

test('pair: a pool is PATH.data + PATH.map, and pair is the default layout', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'shelf');
  const pool = openPool(t, p, { size: MiB });
  t.is(pool.layout, 'pair');
  t.deepEqual(ls(dir), ['shelf.data', 'shelf.map']);
  t.true(fs.statSync(`${p}.data`).size >= MiB, 'the region is reserved up front');
  t.true(Pool.exists(p));
  t.false(Pool.exists(p, 'single'), 'there is no single-layout file at PATH');
});

test('pair: the .data file is fully reserved (no holes) at create', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  openPool(t, p, { size: 8 * MiB });
  const st = fs.statSync(`${p}.data`);
  // posix_fallocate: allocated blocks cover the whole file
  t.true(st.blocks * 512 >= st.size, `blocks ${st.blocks} * 512 < size ${st.size}`);
});

test('single: a pool is one file at PATH', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'dev0');
  const pool = openPool(t, p, { size: MiB, layout: 'single' });
  t.is(pool.layout, 'single');
  t.deepEqual(ls(dir), ['dev0']);
  t.false(Pool.exists(p, 'pair'));
});

test('bad pool names are ESHELF_NAME (open, exists, destroy)', (t) => {
  const dir = tempDir(t);
  const bad = ['', '.', '..', `${dir}/.`, `${dir}/..`, `${dir}/`, `${dir}/p/`, '/', `${dir}/a\0b`, 'a\0'];
  for (const name of bad) {
    for (const [what, fn] of [
      ['open', () => Pool.open(name, { size: MiB })],
      ['open single', () => Pool.open(name, { size: MiB, layout: 'single' })],
      ['exists', () => Pool.exists(name)],
      ['destroy', () => Pool.destroy(name)],
    ]) {
      const err = t.throws(fn, undefined, `${what} ${JSON.stringify(name)}`);
      if (err) {
        t.true(err instanceof ShelfError, `${what} ${JSON.stringify(name)}: ${err.name}: ${err.message}`);
        t.is(err.code, 'ESHELF_NAME', `${what} ${JSON.stringify(name)}: ${err.message}`);
      }
    }
  }
  t.deepEqual(ls(dir), [], 'nothing was created');
});

test('a non-string pool path is a TypeError', (t) => {
  for (const v of [undefined, null, 42, {}, Buffer.from('p')]) {
    t.throws(() => Pool.open(v, { size: MiB }), { instanceOf: TypeError }, String(v));
  }
});

test('unknown options are a TypeError naming the option', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const err = t.throws(() => Pool.open(p, { size: MiB, sizee: 2 }), { instanceOf: TypeError });
  t.true(err.message.includes('sizee'), err.message);
  t.throws(() => Pool.open(p, { size: MiB, readonly: true }), { instanceOf: TypeError, message: /readonly/ });
  t.deepEqual(ls(dir), [], 'nothing was created');
});

test('bad option values are TypeError/RangeError and create nothing', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const cases = [
    [{ size: -1 }, RangeError],
    [{ size: 0 }, RangeError],
    [{ size: 1.5 }, RangeError],
    [{ size: 2 ** 60 * 16 }, RangeError],
    [{ size: '1048576' }, RangeError],
    [{ size: MiB, create: 'yes' }, TypeError],
    [{ size: MiB, readOnly: 1 }, TypeError],
    [{ size: MiB, forceNew: 'true' }, TypeError],
    [{ size: MiB, layout: 'triple' }, TypeError],
    [{ forceNew: true }, TypeError], // forceNew needs a size
    [{ size: MiB, forceNew: true, readOnly: true }, TypeError],
    [{ size: MiB, logSize: -4096, layout: 'single' }, RangeError],
    [{ size: MiB, maxSize: 0 }, RangeError],
  ];
  for (const [opts, Type] of cases) {
    t.throws(() => Pool.open(p, opts), { instanceOf: Type }, JSON.stringify(opts));
  }
  t.throws(() => Pool.open(p, 'size=1'), { instanceOf: TypeError });
  t.throws(() => Pool.open(p, null), { instanceOf: TypeError });
  t.deepEqual(ls(dir), [], 'nothing was created');
});

test('pair: opening a pool that has only one of its two files is an error, and nothing is overwritten', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: MiB });
  putBytes(pool, 'x', pattern('x', 100));
  pool.close();
  const data = fs.readFileSync(`${p}.data`);
  fs.renameSync(`${p}.map`, path.join(dir, 'saved.map'));
  for (const opts of [{}, { size: MiB }, { readOnly: true }]) {
    const err = t.throws(() => Pool.open(p, opts), { instanceOf: ShelfError }, JSON.stringify(opts));
    if (err) t.true(err.message.includes('p'), err.message);
  }
  t.deepEqual(fs.readFileSync(`${p}.data`), data, 'the orphaned .data is not recreated or modified');
  t.false(fs.existsSync(`${p}.map`));
});
