'use strict';
// One test per error code the engine produces: ShelfError, a stable .code, a message naming the path or entry,
// and errno/syscall/path when the operating system refused. OS failures are injected with the engine's
// test-only fault hook (binding.testing.injectFault), which makes the next call(s) of a syscall fail.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { native, Pool, ShelfError, tempDir, openPool, pattern, readAt, putBytes, dump, throwsShelf, ls } = require('./helpers');

const MiB = 1 << 20;
const { testing } = native.binding;

/** Arm a fault for the duration of fn, then disarm whatever is left. */
function withFault(t, call, errno, fn, { after = 0, count = 1 } = {}) {
  testing.injectFault(call, errno, after, count);
  try {
    return fn();
  } finally {
    testing.clearFaults();
  }
}

test.afterEach.always(() => testing.clearFaults());

test('ShelfError is one exported class with a stable code', (t) => {
  const e = new ShelfError('ESHELF_FULL', 'pool /x is full', { errno: 'ENOSPC', syscall: 'posix_fallocate', path: '/x.data' });
  t.true(e instanceof Error);
  t.is(e.name, 'ShelfError');
  t.is(e.code, 'ESHELF_FULL');
  t.is(e.errno, 'ENOSPC');
  t.is(e.syscall, 'posix_fallocate');
  t.is(e.path, '/x.data');
  t.true(typeof e.stack === 'string');
});

test('ESHELF_EXISTS: a pair-layout open where a single-layout pool sits; forceNew is the way to overwrite', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'taken');
  const single = Pool.open(p, { size: MiB, layout: 'single' });
  putBytes(single, 'keep', pattern('k', 100));
  single.close();
  const before = fs.readFileSync(p);
  for (const opts of [{}, { size: MiB }, { size: MiB, layout: 'pair' }, { readOnly: true }]) {
    const err = throwsShelf(t, () => Pool.open(p, opts), 'ESHELF_EXISTS', ['taken']);
    if (err) t.regex(err.message, /single/, 'the message says what is there');
  }
  t.deepEqual(ls(dir), ['taken'], 'no PATH.data/PATH.map were created beside it');
  t.deepEqual(fs.readFileSync(p), before);
  const again = Pool.open(p, { layout: 'single' });
  t.true(again.has('keep'));
  again.close();
  // forceNew overwrites (here: a pair-layout pool replaces the single-layout file's role)
  const fresh = Pool.open(p, { size: MiB, forceNew: true });
  t.deepEqual(fresh.names(), []);
  t.is(fresh.layout, 'pair');
  putBytes(fresh, 'new', pattern('n', 10));
  fresh.close();
  // the erased single-layout pool is gone: the new pool opens normally
  t.deepEqual(ls(dir), ['taken.data', 'taken.map']);
  const reopened = openPool(t, p);
  t.true(reopened.has('new'));
});

test('an orphaned PATH.data (PATH.map gone) is ESHELF_CORRUPT, never silently overwritten; forceNew overwrites it', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'half');
  fs.writeFileSync(`${p}.data`, 'precious');
  for (const opts of [{}, { size: MiB }]) {
    throwsShelf(t, () => Pool.open(p, opts), 'ESHELF_CORRUPT', ['half']);
  }
  t.is(fs.readFileSync(`${p}.data`, 'utf8'), 'precious');
  t.false(fs.existsSync(`${p}.map`));
  const pool = openPool(t, p, { size: MiB, forceNew: true });
  t.deepEqual(pool.names(), []);
  t.true(fs.statSync(`${p}.data`).size >= MiB);
});

test('ESHELF_NOT_FOUND: missing pool, missing entry', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'nothere');
  throwsShelf(t, () => Pool.open(p, { create: false }), 'ESHELF_NOT_FOUND', ['nothere']);
  throwsShelf(t, () => Pool.open(p, { readOnly: true }), 'ESHELF_NOT_FOUND', ['nothere']);
  throwsShelf(t, () => Pool.open(p), 'ESHELF_NOT_FOUND', ['nothere']);
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  throwsShelf(t, () => pool.commit([{ type: 'erase', name: 'ghost' }]), 'ESHELF_NOT_FOUND', ['ghost']);
  t.deepEqual(ls(dir), ['p.data', 'p.map']);
});

test('ESHELF_FULL: alloc beyond the free space', (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'fullpool'), { size: MiB });
  const err = throwsShelf(t, () => pool.alloc(2 * MiB), 'ESHELF_FULL');
  if (err) t.regex(err.message, /fullpool|2097152|2 ?MiB/, 'the message says which pool or how much');
});

test('ESHELF_FULL: create whose space cannot be reserved (ENOSPC) leaves nothing behind', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'nospace');
  const err = withFault(t, 'posix_fallocate', 'ENOSPC', () => t.throws(() => Pool.open(p, { size: 8 * MiB }), { instanceOf: ShelfError }));
  if (err) {
    t.is(err.code, 'ESHELF_FULL', err.message);
    t.is(err.errno, 'ENOSPC');
    t.is(err.syscall, 'posix_fallocate');
    t.true(String(err.path).includes('nospace'), String(err.path));
    t.true(err.message.includes('nospace'), err.message);
  }
  t.deepEqual(ls(dir), [], 'nothing half-made');
  t.false(Pool.exists(p));
  // and a forceNew over an existing pool that fails the same way keeps the old pool
  const pool = Pool.open(p, { size: MiB });
  putBytes(pool, 'keep', pattern('k', 100));
  const state = dump(pool);
  pool.close();
  withFault(t, 'posix_fallocate', 'ENOSPC', () => t.throws(() => Pool.open(p, { size: 8 * MiB, forceNew: true }), { instanceOf: ShelfError }));
  // forceNew had already been told to erase the old pool: it is either intact or gone, never half-made
  if (Pool.exists(p)) {
    const after = Pool.open(p, { create: false });
    t.deepEqual(dump(after), state);
    after.close();
  } else {
    t.deepEqual(ls(dir), []);
  }
});

test('ESHELF_FULL: a file larger than the file system allows (EFBIG) is refused at create', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'huge');
  const err = t.throws(() => Pool.open(p, { size: 2 ** 45, maxSize: 2 ** 45 }), { instanceOf: ShelfError });
  if (err) t.is(err.code, 'ESHELF_FULL', `${err.errno} ${err.syscall}: ${err.message}`);
  t.deepEqual(ls(dir), []);
});

test('ESHELF_FULL: grow whose space cannot be reserved changes nothing', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'growpool');
  const pool = openPool(t, p, { size: MiB });
  const { offset } = putBytes(pool, 'x', pattern('x', 4096));
  const v = new Uint8Array(pool.view(offset, 4096));
  const size = pool.size;
  const fileSize = fs.statSync(`${p}.data`).size;
  const err = withFault(t, 'posix_fallocate', 'ENOSPC', () => t.throws(() => pool.grow(16 * MiB), { instanceOf: ShelfError }));
  if (err) {
    t.is(err.code, 'ESHELF_FULL', err.message);
    t.is(err.errno, 'ENOSPC');
    t.true(err.message.includes('growpool'), err.message);
  }
  t.is(pool.size, size);
  t.is(fs.statSync(`${p}.data`).size, fileSize, 'the file was not left extended');
  t.deepEqual(Buffer.from(v), pattern('x', 4096));
  t.throws(() => pool.alloc(2 * MiB));
  // a later grow works
  pool.grow(16 * MiB);
  t.true(pool.size >= 16 * MiB);
  t.true(pool.alloc(8 * MiB) > 0);
});

test('ESHELF_LOCKED: a second writer', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'lockpool');
  openPool(t, p, { size: MiB });
  throwsShelf(t, () => Pool.open(p), 'ESHELF_LOCKED', ['lockpool']);
});

test('ESHELF_CORRUPT: a damaged index names the pool', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'badpool');
  const pool = Pool.open(p, { size: MiB });
  putBytes(pool, 'x', pattern('x', 100));
  pool.close();
  const map = fs.readFileSync(`${p}.map`);
  map[5] ^= 0xff; // inside the log header's magic
  fs.writeFileSync(`${p}.map`, map);
  throwsShelf(t, () => Pool.open(p), 'ESHELF_CORRUPT', ['badpool']);
  throwsShelf(t, () => Pool.open(p, { readOnly: true }), 'ESHELF_CORRUPT', ['badpool']);
  t.deepEqual(fs.readFileSync(`${p}.map`), map, 'a corrupt pool is not modified by a failed open');
});

test('ESHELF_CLOSED: use after close names the pool', (t) => {
  const dir = tempDir(t);
  const pool = Pool.open(path.join(dir, 'gonepool'), { size: MiB });
  pool.close();
  throwsShelf(t, () => pool.alloc(64), 'ESHELF_CLOSED', ['gonepool']);
  throwsShelf(t, () => pool.get('x'), 'ESHELF_CLOSED', ['gonepool']);
});

test('ESHELF_READONLY: every write on a readOnly pool', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'ropool');
  const w = Pool.open(p, { size: MiB });
  const { offset } = putBytes(w, 'x', pattern('x', 4096));
  w.close();
  const ro = openPool(t, p, { readOnly: true });
  const state = dump(ro);
  const writes = {
    alloc: () => ro.alloc(64),
    release: () => ro.release(offset),
    'commit put': () => ro.commit([{ type: 'put', name: 'y', offset: 0, length: 0, meta: Buffer.from('y') }]),
    'commit erase': () => ro.commit([{ type: 'erase', name: 'x' }]),
    grow: () => ro.grow(4 * MiB),
    compact: () => ro.compact(),
    persist: () => ro.persist(offset, 4096),
    write: () => ro.write(offset, Buffer.from('x')),
    zero: () => ro.zero(offset, 16),
  };
  for (const [what, fn] of Object.entries(writes)) {
    const err = throwsShelf(t, fn, 'ESHELF_READONLY', ['ropool']);
    if (!err) t.log(`${what} did not throw ESHELF_READONLY`);
  }
  t.deepEqual(dump(ro), state);
  t.deepEqual(readAt(ro, offset, 4096), pattern('x', 4096));
});

test('ESHELF_NAME: bad pool names and bad entry names', (t) => {
  const dir = tempDir(t);
  throwsShelf(t, () => Pool.open(`${dir}/..`, { size: MiB }), 'ESHELF_NAME', ['..']);
  throwsShelf(t, () => Pool.open(`${dir}/p\0q`, { size: MiB }), 'ESHELF_NAME');
  const pool = openPool(t, path.join(dir, 'p'), { size: MiB });
  throwsShelf(t, () => pool.commit([{ type: 'put', name: '', offset: 0, length: 0 }]), 'ESHELF_NAME');
  throwsShelf(t, () => pool.commit([{ type: 'put', name: 'n'.repeat(256), offset: 0, length: 0 }]), 'ESHELF_NAME', ['nnnn']);
  throwsShelf(t, () => pool.commit([{ type: 'put', name: 'bad\uD800', offset: 0, length: 0 }]), 'ESHELF_NAME');
});

test('ESHELF_NAME: a symlink where a pool file should be (O_NOFOLLOW)', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'linked');
  fs.writeFileSync(path.join(dir, 'target'), 'not a pool');
  fs.symlinkSync(path.join(dir, 'target'), `${p}.map`);
  fs.symlinkSync(path.join(dir, 'target'), `${p}.data`);
  const err = throwsShelf(t, () => Pool.open(p, { size: MiB }), 'ESHELF_NAME', ['linked']);
  if (err) t.is(err.errno, 'ELOOP');
  t.is(fs.readFileSync(path.join(dir, 'target'), 'utf8'), 'not a pool');
});

test('ESHELF_IO: a failed fdatasync of the log fails the commit, which is then not visible', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'iopool');
  const pool = Pool.open(p, { size: MiB });
  putBytes(pool, 'before', pattern('b', 100));
  const state = dump(pool);
  const off = pool.alloc(100);
  const err = withFault(t, 'fdatasync', 'EIO', () =>
    t.throws(() => pool.commit([{ type: 'put', name: 'lost', offset: off, length: 100 }]), { instanceOf: ShelfError }),
  );
  if (err) {
    t.is(err.code, 'ESHELF_IO', err.message);
    t.is(err.errno, 'EIO');
    t.is(err.syscall, 'fdatasync');
    t.true(String(err.path).endsWith('iopool.map'), String(err.path));
    t.true(err.message.includes('iopool'), err.message);
  }
  t.false(pool.has('lost'), 'a commit that threw is not visible');
  t.deepEqual(dump(pool), state);
  // whatever the engine does next (carry on, or refuse until re-opened), a re-open is consistent
  try {
    pool.close();
  } catch {
    /* closing a failed pool may report the failure again */
  }
  const again = openPool(t, p);
  const entries = again.names();
  t.true(entries.includes('before'));
  t.deepEqual(readAt(again, again.get('before').offset, 100), pattern('b', 100));
  putBytes(again, 'after', pattern('a', 10));
  t.true(again.has('after'));
});

test('ESHELF_IO: a failed msync of new extent data fails the commit before the batch is written', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'msyncpool');
  const pool = openPool(t, p, { size: MiB });
  const off = pool.alloc(8192);
  new Uint8Array(pool.view(off, 8192)).set(pattern('d', 8192));
  const logBytes = pool.stats().logBytes;
  const mapSize = fs.statSync(`${p}.map`).size;
  const err = withFault(t, 'msync', 'EIO', () =>
    t.throws(() => pool.commit([{ type: 'put', name: 'unsynced', offset: off, length: 8192 }]), { instanceOf: ShelfError }),
  );
  if (err) {
    t.is(err.code, 'ESHELF_IO', err.message);
    t.is(err.errno, 'EIO');
    t.is(err.syscall, 'msync');
  }
  t.false(pool.has('unsynced'));
  t.is(fs.statSync(`${p}.map`).size, mapSize, 'the batch was not appended: data is persisted first');
  t.is(pool.stats().logBytes, logBytes);
});

test('ESHELF_IO: a failed pwrite of the log fails the commit cleanly', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'pwpool');
  const pool = Pool.open(p, { size: MiB });
  putBytes(pool, 'before', pattern('b', 100));
  const state = dump(pool);
  const err = withFault(t, 'pwrite', 'EIO', () =>
    t.throws(() => pool.commit([{ type: 'put', name: 'nope', offset: 0, length: 0, meta: Buffer.from('x') }]), { instanceOf: ShelfError }),
  );
  if (err) {
    t.is(err.code, 'ESHELF_IO', err.message);
    t.is(err.errno, 'EIO');
    t.is(err.syscall, 'pwrite');
  }
  t.deepEqual(dump(pool), state);
  pool.close();
  const again = openPool(t, p);
  t.deepEqual(dump(again), state);
});

test('ESHELF_IO: a failed mmap at open leaves the pool as it was', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'mmpool');
  const pool = Pool.open(p, { size: MiB });
  putBytes(pool, 'x', pattern('x', 100));
  const state = dump(pool);
  pool.close();
  const err = withFault(t, 'mmap', 'ENOMEM', () => t.throws(() => Pool.open(p), { instanceOf: ShelfError }));
  if (err) {
    t.is(err.code, 'ESHELF_IO', err.message);
    t.is(err.errno, 'ENOMEM');
    t.is(err.syscall, 'mmap');
    t.true(err.message.includes('mmpool'), err.message);
  }
  // the failed open released its lock
  const again = openPool(t, p);
  t.deepEqual(dump(again), state);
});

test('fault injection refuses unknown syscalls (the hook is honest about what it covers)', (t) => {
  t.throws(() => testing.injectFault('frobnicate', 'EIO', 0, 1), { instanceOf: RangeError });
  testing.clearFaults();
});
