'use strict';
// Fault injection: every system call the engine makes that can fail is made to fail on purpose through the
// engine's test-only hook (binding.testing.injectFault(syscall, errno, after, count), src/sys.hpp).
//
// For every case the contract is the same (issue 7, "Faults"):
//   - the failure surfaces as a ShelfError with a clear code (ESHELF_FULL for ENOSPC/EDQUOT, ESHELF_IO for the rest),
//     the errno name, the syscall and the path;
//   - nothing half-made is left behind, and the pool can be opened afterwards;
//   - nothing already committed is lost, and a commit that failed is never reported as durable.
//
// The fault table is process-global, so every test here is serial and clears the faults in teardown.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { Pool, native, tempDir, pattern, sha1, writeAt, readAt, dump, throwsShelf, ls } = require('./helpers');

const KiB = 1024;
const MiB = 1 << 20;
const { injectFault, clearFaults } = native.binding.testing;

/** Arm a fault for this test only: the (after+1)-th call of `syscall` from now fails with `errno`, `count` times. */
function fault(t, syscall, errno, after = 0, count = 1) {
  t.teardown(clearFaults);
  injectFault(syscall, errno, after, count);
}

/** alloc + fill + put op (not committed). The bytes are pattern(`${name}#${len}`). */
function stage(pool, name, len = 1000) {
  const offset = pool.alloc(len);
  writeAt(pool, offset, pattern(`${name}#${len}`, len));
  return { type: 'put', name, offset, length: len };
}

/** A pool with three committed entries; returns { pool, p, state } with the pool open for writing. */
function seeded(t, layout = 'pair', extra = {}) {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const opts = layout === 'single' ? { layout, size: 4 * MiB, logSize: 64 * KiB, ...extra } : { size: MiB, ...extra };
  const pool = Pool.open(p, opts);
  t.teardown(() => pool.close());
  pool.commit([stage(pool, 'a', 100), stage(pool, 'b', 5000)]);
  pool.commit([stage(pool, 'c', 64)]);
  return { dir, p, pool, layout, state: dump(pool) };
}

/** Close `pool`, re-open the pool at `p` (writable) and return its dump; the re-opened pool is closed again. */
function reopenDump(t, pool, p, layout = 'pair') {
  pool.close();
  const again = Pool.open(p, { layout });
  try {
    return dump(again);
  } finally {
    again.close();
  }
}

/** Every entry of a dump, without seq (a retried commit gets a new seq). */
const bare = (d) => d.entries.map(({ seq, ...e }) => e);

function checkOsError(t, err, { errno, syscall }) {
  if (!err) return;
  t.is(err.errno, errno, err.message);
  t.is(err.syscall, syscall, err.message);
  t.true(typeof err.path === 'string' && err.path.length > 0, 'the error names the file');
  t.true(err.message.includes(errno), `message names the errno: ${err.message}`);
}

// --------------------------------------------------------------------------------------------------------------
// creation

for (const [errno, code] of [['ENOSPC', 'ESHELF_FULL'], ['EDQUOT', 'ESHELF_FULL'], ['EIO', 'ESHELF_IO']]) {
  test.serial(`create (pair): posix_fallocate ${errno} -> ${code}, no files left, a later create works`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    fault(t, 'posix_fallocate', errno);
    const err = throwsShelf(t, () => Pool.open(p, { size: 4 * MiB }), code, [p]);
    checkOsError(t, err, { errno, syscall: 'posix_fallocate' });
    t.deepEqual(ls(dir), [], 'nothing half-made');
    t.false(Pool.exists(p));
    clearFaults();
    const pool = Pool.open(p, { size: 4 * MiB });
    t.is(pool.size, 4 * MiB);
    pool.close();
  });
}

for (const [syscall, after] of [['pwrite', 0], ['fsync', 0], ['pwrite', 1], ['fsync', 1], ['fsync', 2], ['ftruncate', 0]]) {
  test.serial(`create (pair): ${syscall} EIO (call ${after + 1}) -> ESHELF_IO, no files left`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    fault(t, syscall, 'EIO', after);
    const err = throwsShelf(t, () => Pool.open(p, { size: MiB }), 'ESHELF_IO');
    checkOsError(t, err, { errno: 'EIO', syscall });
    t.deepEqual(ls(dir), [], 'nothing half-made');
    clearFaults();
    Pool.open(p, { size: MiB }).close();
    t.true(Pool.exists(p));
  });
}

test.serial('create (single): posix_fallocate ENOSPC -> ESHELF_FULL, the pool does not exist, a later create works', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 's');
  fault(t, 'posix_fallocate', 'ENOSPC');
  const err = throwsShelf(t, () => Pool.open(p, { layout: 'single', size: 4 * MiB }), 'ESHELF_FULL', [p]);
  checkOsError(t, err, { errno: 'ENOSPC', syscall: 'posix_fallocate' });
  t.false(Pool.exists(p, 'single'), 'no pool (an empty file at most: an unfinished creation, redone by the next create)');
  t.true(!fs.existsSync(p) || fs.statSync(p).size === 0);
  clearFaults();
  const pool = Pool.open(p, { layout: 'single', size: 4 * MiB });
  t.deepEqual(pool.names(), []);
  pool.close();
});

for (const after of [0, 1, 2]) {
  test.serial(`create (single): msync EIO while laying out (call ${after + 1}) -> ESHELF_IO, never a half pool`, (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 's');
    fault(t, 'msync', 'EIO', after);
    const err = throwsShelf(t, () => Pool.open(p, { layout: 'single', size: 4 * MiB }), 'ESHELF_IO');
    checkOsError(t, err, { errno: 'EIO', syscall: 'msync' });
    clearFaults();
    // Whatever the failing persist, what is left is no pool (ESHELF_NOT_FOUND / ESHELF_CORRUPT: no valid superblock,
    // the commit point of creation) or a whole, empty pool (when only the final persist of the superblock failed but
    // its bytes were already in the page cache) -- never a pool with a valid superblock and a bad index.
    let r;
    try {
      const ro = Pool.open(p, { layout: 'single', readOnly: true });
      r = ro.names().length === 0 ? 'empty pool' : 'entries?';
      ro.close();
    } catch (e) {
      r = e.code;
    }
    t.true(['ESHELF_CORRUPT', 'ESHELF_NOT_FOUND', 'empty pool'].includes(r), r);
    const pool = Pool.open(p, { layout: 'single', size: 4 * MiB, forceNew: true });
    t.deepEqual(pool.names(), []);
    pool.close();
  });
}

// Known engine bug (see /work/coord/engine-bugs.md, "single layout: a failed create leaves a file that blocks re-creation"):
// a single-layout create that fails after reserving the file leaves it at full size with a zeroed superblock, and a
// plain create then refuses it as ESHELF_CORRUPT (only forceNew gets past it). The pair layout removes its files.
test.serial('create (single): after a failed create, a plain create (no forceNew) works', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 's');
  fault(t, 'msync', 'EIO', 0);
  throwsShelf(t, () => Pool.open(p, { layout: 'single', size: 4 * MiB }), 'ESHELF_IO');
  clearFaults();
  const pool = Pool.open(p, { layout: 'single', size: 4 * MiB });
  t.deepEqual(pool.names(), []);
  pool.close();
});

// --------------------------------------------------------------------------------------------------------------
// open and grow

test.serial('open (pair, writable): posix_fallocate ENOSPC -> ESHELF_FULL, lock released, next open has everything', (t) => {
  const { p, pool, state } = seeded(t);
  pool.close();
  fault(t, 'posix_fallocate', 'ENOSPC');
  throwsShelf(t, () => Pool.open(p), 'ESHELF_FULL', [p]);
  clearFaults();
  const again = Pool.open(p); // would be ESHELF_LOCKED if the failed open had kept its descriptor
  t.deepEqual(dump(again), state);
  again.close();
});

for (const layout of ['pair', 'single']) {
  test.serial(`open (${layout}): mmap ENOMEM -> ESHELF_IO, lock released, next open has everything`, (t) => {
    const { p, pool, state } = seeded(t, layout);
    pool.close();
    for (const readOnly of [false, true]) {
      fault(t, 'mmap', 'ENOMEM');
      const err = throwsShelf(t, () => Pool.open(p, { layout, readOnly }), 'ESHELF_IO', [p]);
      checkOsError(t, err, { errno: 'ENOMEM', syscall: 'mmap' });
      clearFaults();
    }
    const again = Pool.open(p, { layout });
    t.deepEqual(dump(again), state);
    again.close();
  });
}

for (const [syscall, errno, code] of [
  ['posix_fallocate', 'ENOSPC', 'ESHELF_FULL'],
  ['fsync', 'EIO', 'ESHELF_IO'],
  ['mmap', 'ENOMEM', 'ESHELF_IO'],
]) {
  for (const layout of ['pair', 'single']) {
    test.serial(`grow (${layout}): ${syscall} ${errno} -> ${code}, size and file unchanged, pool still works`, (t) => {
      const { p, pool, state } = seeded(t, layout);
      const file = layout === 'pair' ? `${p}.data` : p;
      const size = pool.size;
      const fileSize = fs.statSync(file).size;
      const view = new Uint8Array(pool.view(pool.get('b').offset, 5000)); // a live view across the failure
      fault(t, syscall, errno);
      const err = throwsShelf(t, () => pool.grow(size * 2), code, [p]);
      checkOsError(t, err, { errno, syscall });
      clearFaults();
      t.is(pool.size, size, 'the region did not change');
      t.is(fs.statSync(file).size, fileSize, 'the file was cut back to its old size');
      t.deepEqual(Buffer.from(view), pattern('b#5000', 5000), 'views stay valid');
      t.throws(() => pool.alloc(size), { instanceOf: native.ShelfError }, 'the failed growth is not allocatable');
      // the hole left by the failed mapping is reserved again: a second grow lands in place and works
      pool.grow(size * 2);
      t.is(pool.size, size * 2);
      const big = stage(pool, 'big', size);
      pool.commit([big]);
      t.deepEqual(readAt(pool, big.offset, 64), pattern(`big#${size}`, size).subarray(0, 64));
      const after = reopenDump(t, pool, p, layout);
      t.deepEqual(after.entries.filter((e) => e.name !== 'big'), state.entries, 'nothing committed was lost');
      t.true(after.entries.some((e) => e.name === 'big'));
    });
  }
}

// --------------------------------------------------------------------------------------------------------------
// commit

for (const layout of ['pair', 'single']) {
  test.serial(`commit (${layout}): msync EIO while persisting the data -> ESHELF_IO, nothing written, retry works`, (t) => {
    const { p, pool, state } = seeded(t, layout);
    const logBytes = pool.stats().logBytes;
    const mapSize = layout === 'pair' ? fs.statSync(`${p}.map`).size : 0;
    const op = stage(pool, 'd', 9000);
    fault(t, 'msync', 'EIO');
    const err = throwsShelf(t, () => pool.commit([op, { type: 'erase', name: 'a' }]), 'ESHELF_IO', [p]);
    checkOsError(t, err, { errno: 'EIO', syscall: 'msync' });
    clearFaults();
    t.deepEqual(dump(pool), state, 'the failed batch is not visible');
    t.is(pool.stats().logBytes, logBytes, 'nothing was appended');
    if (layout === 'pair') t.is(fs.statSync(`${p}.map`).size, mapSize);
    const seq = pool.commit([op, { type: 'erase', name: 'a' }]); // the extent is still ours: retry it
    t.is(seq, state.seq + 1, 'the failed commit used no sequence number');
    const after = reopenDump(t, pool, p, layout);
    t.deepEqual(after.entries.map((e) => e.name), ['b', 'c', 'd']);
    t.is(after.entries[2].data, sha1(pattern('d#9000', 9000)), 'the retried entry is whole');
  });
}

for (const [syscall, after] of [['pwrite', 0], ['fdatasync', 0]]) {
  test.serial(`commit (pair): ${syscall} EIO on the index -> ESHELF_IO, not durable, .map cut back, re-open = previous state`, (t) => {
    const { p, pool, state } = seeded(t);
    const mapSize = fs.statSync(`${p}.map`).size;
    const op = stage(pool, 'd', 3000);
    fault(t, syscall, 'EIO', after);
    const err = throwsShelf(t, () => pool.commit([op]), 'ESHELF_IO', [`${p}.map`]);
    checkOsError(t, err, { errno: 'EIO', syscall });
    clearFaults();
    t.false(pool.has('d'), 'a commit that failed is not reported (nor visible) as committed');
    t.is(pool.stats().seq, state.seq);
    t.is(fs.statSync(`${p}.map`).size, mapSize, 'the batch was cut off the index again');
    // the pool was not poisoned (the cut-back worked): the next commit goes through
    pool.commit([stage(pool, 'e', 10)]);
    const reopened = reopenDump(t, pool, p);
    t.deepEqual(reopened.entries.map((e) => e.name), ['a', 'b', 'c', 'e']);
    t.deepEqual(reopened.entries.slice(0, 3), state.entries, 'nothing committed was lost');
  });
}

test.serial('commit (pair): fdatasync EIO and the cut-back fails too -> ESHELF_IO, pool refuses commits until re-opened', (t) => {
  const { p, pool, state } = seeded(t);
  fault(t, 'fdatasync', 'EIO');
  injectFault('ftruncate', 'EIO', 0, 1);
  throwsShelf(t, () => pool.commit([stage(pool, 'd', 3000)]), 'ESHELF_IO', ['outcome is unknown']); // R4
  clearFaults();
  t.false(pool.has('d'), 'never reported as committed');
  throwsShelf(t, () => pool.commit([stage(pool, 'e', 10)]), 'ESHELF_IO', ['re-open']);
  throwsShelf(t, () => pool.alloc(10), 'ESHELF_IO', ['re-open']);
  // The batch may still sit in the page cache: after a failed fdatasync its fate is unknown (the kernel may or may
  // not write it back). The re-opened pool holds either the previous state or the previous state plus that whole
  // batch with intact data -- never a half batch, never a loss of what was committed before.
  const after = reopenDump(t, pool, p);
  t.deepEqual(after.entries.slice(0, 3), state.entries, 'nothing committed was lost');
  const extra = after.entries.slice(3);
  t.true(extra.length === 0 || (extra.length === 1 && extra[0].name === 'd'), JSON.stringify(extra.map((e) => e.name)));
  if (extra.length === 1) {
    const again = Pool.open(p);
    t.deepEqual(readAt(again, extra[0].offset, 3000), pattern('d#3000', 3000), 'if it surfaced, it is whole');
    again.close();
  }
});

// Known engine bug (see /work/coord/engine-bugs.md, "single layout: a failed log append stays in the mapping"):
// the batch whose persist failed is left in the mapped log and surfaces at the next open, although commit() threw.
test.serial('commit (single): msync EIO on the log append -> ESHELF_IO and the batch never surfaces later', (t) => {
  const { p, pool, state } = seeded(t, 'single');
  const op = stage(pool, 'd', 3000);
  fault(t, 'msync', 'EIO', 1); // call 1 persists the data, call 2 the log bytes
  const err = throwsShelf(t, () => pool.commit([op]), 'ESHELF_IO', [p]);
  checkOsError(t, err, { errno: 'EIO', syscall: 'msync' });
  clearFaults();
  t.false(pool.has('d'));
  pool.release(op.offset); // the application gives the extent back, as it may after a failed commit
  const after = reopenDump(t, pool, p, 'single');
  t.deepEqual(after.entries, state.entries, 're-open = the previous state');
});

// --------------------------------------------------------------------------------------------------------------
// persist

for (const layout of ['pair', 'single']) {
  test.serial(`persist (${layout}): msync EIO -> ESHELF_IO naming the file; the next persist works`, (t) => {
    const { pool } = seeded(t, layout);
    const off = pool.get('b').offset;
    fault(t, 'msync', 'EIO');
    const err = throwsShelf(t, () => pool.persist(off, 5000), 'ESHELF_IO');
    checkOsError(t, err, { errno: 'EIO', syscall: 'msync' });
    clearFaults();
    pool.persist(off, 5000);
    t.pass();
  });
}

// --------------------------------------------------------------------------------------------------------------
// compaction

for (const [syscall, after] of [['pwrite', 0], ['fsync', 0], ['rename', 0]]) {
  test.serial(`compact (pair): ${syscall} EIO -> ESHELF_IO, the old index is intact byte for byte, no .compact left`, (t) => {
    const { dir, p, pool, state } = seeded(t);
    const before = fs.readFileSync(`${p}.map`);
    fault(t, syscall, 'EIO', after);
    const err = throwsShelf(t, () => pool.compact(), 'ESHELF_IO', ['(the old index is intact)']);
    checkOsError(t, err, { errno: 'EIO', syscall });
    clearFaults();
    t.deepEqual(fs.readFileSync(`${p}.map`), before);
    t.deepEqual(ls(dir), ['p.data', 'p.map']);
    t.deepEqual(dump(pool), state);
    pool.commit([stage(pool, 'd', 10)]); // commits still go to the old index
    pool.compact();
    const reopened = reopenDump(t, pool, p);
    t.deepEqual(reopened.entries.map((e) => e.name), ['a', 'b', 'c', 'd']);
  });
}

test.serial('compact (pair): directory fsync EIO after the rename -> ESHELF_IO, pool stops committing, re-open has everything', (t) => {
  const { p, pool, state } = seeded(t);
  fault(t, 'fsync', 'EIO', 1); // call 1: the new index file, call 2: its directory
  const err = throwsShelf(t, () => pool.compact(), 'ESHELF_IO');
  checkOsError(t, err, { errno: 'EIO', syscall: 'fsync' });
  clearFaults();
  throwsShelf(t, () => pool.commit([{ type: 'erase', name: 'a' }]), 'ESHELF_IO', ['re-open']);
  t.deepEqual(bare(reopenDump(t, pool, p)), bare(state));
});

test.serial('automatic compaction (pair): rename EIO is swallowed, every commit stands', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  const pool = Pool.open(p, { size: 4 * MiB });
  t.teardown(() => pool.close());
  const off = pool.alloc(64);
  pool.commit([{ type: 'put', name: 'k', offset: off, length: 64 }]);
  fault(t, 'rename', 'EIO', 0, 1000);
  const meta = Buffer.alloc(2000, 1);
  for (let i = 0; i < 100; i++) pool.commit([{ type: 'put', name: 'k', offset: off, length: 64, meta: Buffer.from(meta.fill(i)) }]);
  t.true(pool.stats().logBytes > 2 * pool.stats().liveLogBytes, 'compaction kept failing');
  clearFaults();
  const final = dump(pool);
  t.deepEqual(ls(dir), ['p.data', 'p.map']);
  t.deepEqual(reopenDump(t, pool, p), final);
});

// Known engine bug (see /work/coord/engine-bugs.md, "single layout: failed half switch loses later commits"): when the
// persist of the active-half word fails, the word is already stored in the mapping but the pool keeps appending to
// the old half; at the next open the new half is read and every commit made after the failure is gone.
test.serial('compact (single): msync EIO on the half switch -> ESHELF_IO, and later commits are not lost', (t) => {
  const { p, pool, state } = seeded(t, 'single');
  fault(t, 'msync', 'EIO', 1); // call 1 persists the new half, call 2 the active-half word
  throwsShelf(t, () => pool.compact(), 'ESHELF_IO', [p]);
  clearFaults();
  let committed = null;
  try {
    pool.commit([stage(pool, 'd', 100)]);
    committed = 'd';
  } catch (e) {
    t.is(e.code, 'ESHELF_IO', 'refusing further commits is acceptable too');
  }
  const after = reopenDump(t, pool, p, 'single');
  t.deepEqual(after.entries.map((e) => e.name), committed ? ['a', 'b', 'c', 'd'] : state.entries.map((e) => e.name));
});

// Known engine bug R10 (see /work/coord/engine-bugs.md): since the live half is chosen by content (12380cb), the new half
// of a compaction whose persist failed -- complete in the page cache, higher epoch -- wins at the next open over the old
// half, to which the pool kept committing: the commit made after the failed compaction is lost.
test.serial('compact (single): msync EIO writing the new half -> ESHELF_IO, old half intact, commits continue', (t) => {
  const { p, pool } = seeded(t, 'single');
  fault(t, 'msync', 'EIO', 0);
  throwsShelf(t, () => pool.compact(), 'ESHELF_IO', [p]);
  clearFaults();
  pool.commit([stage(pool, 'd', 100)]);
  const after = reopenDump(t, pool, p, 'single');
  t.deepEqual(after.entries.map((e) => e.name), ['a', 'b', 'c', 'd']);
});

// --------------------------------------------------------------------------------------------------------------
// recovery

test.serial('recovery (pair): ftruncate/fdatasync EIO while cutting a torn tail -> ESHELF_IO, then a clean recovery', (t) => {
  const { p, pool, state } = seeded(t);
  pool.close();
  const mapSize = fs.statSync(`${p}.map`).size;
  fs.appendFileSync(`${p}.map`, Buffer.concat([Buffer.from('TSMB'), Buffer.alloc(60, 0x5a)])); // a torn append
  for (const syscall of ['ftruncate', 'fdatasync']) {
    fault(t, syscall, 'EIO');
    const err = throwsShelf(t, () => Pool.open(p), 'ESHELF_IO', [`${p}.map`]);
    checkOsError(t, err, { errno: 'EIO', syscall });
    clearFaults();
  }
  const ro = Pool.open(p, { readOnly: true });
  t.deepEqual(dump(ro), state, 'readers see the committed state meanwhile');
  ro.close();
  const again = Pool.open(p);
  t.deepEqual(dump(again), state);
  again.close();
  t.is(fs.statSync(`${p}.map`).size, mapSize, 'the torn tail is gone');
});

test.serial('the fault hook rejects unknown syscalls and errnos (RangeError), and clearFaults disarms everything', (t) => {
  t.throws(() => injectFault('open', 'EIO', 0, 1), { instanceOf: RangeError });
  t.throws(() => injectFault('msync', 'ENOTANERRNO', 0, 1), { instanceOf: RangeError });
  t.throws(() => injectFault(1, 'EIO', 0, 1), { instanceOf: TypeError });
  const dir = tempDir(t);
  injectFault('posix_fallocate', 'ENOSPC', 0, 5);
  injectFault('msync', 'EIO', 0, 5);
  clearFaults();
  const pool = Pool.open(path.join(dir, 'p'), { size: MiB });
  pool.commit([stage(pool, 'x', 10)]);
  pool.close();
  t.pass();
});
