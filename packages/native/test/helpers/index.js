'use strict';
// Shared helpers for the @tsmm/native tests. Not a test file (ava only runs *.test.js).
//
// Every test gets its own temp dir (removed in teardown) and every pool a test opens through
// `openPool` is closed in teardown, so a failing assertion never leaks a lock or a mapping.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn, spawnSync } = require('node:child_process');
const native = require('@tsmm/native');

const { Pool, ShelfError } = native;

const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** A fresh temp dir for one test, removed (with everything in it) when the test ends. */
function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Pool.open, closed again in teardown (teardowns run last-registered first, so before the dir goes). */
function openPool(t, p, options) {
  const pool = Pool.open(p, options);
  t.teardown(() => {
    try {
      pool.close();
    } catch {
      /* already reported by the test */
    }
  });
  return pool;
}

/** Deterministic bytes for `seed` (any string or number): xorshift32 over a 32-bit FNV-1a hash of the seed. */
function pattern(seed, length) {
  let h = 0x811c9dc5;
  const s = String(seed);
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let x = h || 0x9e3779b9;
  const out = Buffer.allocUnsafe(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  for (; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function sha1(bytes) {
  return crypto.createHash('sha1').update(bytes).digest('hex');
}

/** Copy `bytes` into the pool at `offset` (pool.write: no view, so nothing stays pinned). */
function writeAt(pool, offset, bytes) {
  if (bytes.length === 0) return;
  pool.write(offset, bytes);
}

/** A copy of `length` bytes at `offset` (pool.read: no view). */
function readAt(pool, offset, length) {
  if (length === 0) return Buffer.alloc(0);
  return pool.read(offset, length);
}

/** alloc + fill + one-op commit. Returns { offset, seq }. `bytes` may be empty (meta-only entry at offset 0). */
function putBytes(pool, name, bytes, meta) {
  let offset = 0;
  if (bytes.length > 0) {
    offset = pool.alloc(bytes.length);
    writeAt(pool, offset, bytes);
  }
  const op = { type: 'put', name, offset, length: bytes.length };
  if (meta !== undefined) op.meta = meta;
  const seq = pool.commit([op]);
  return { offset, seq };
}

/** The observable state of a pool: seq plus every entry with its meta and a hash of its data. */
function dump(pool) {
  const entries = pool.entries('').map((e) => ({
    name: e.name,
    offset: e.offset,
    length: e.length,
    seq: e.seq,
    meta: Buffer.from(e.meta).toString('hex'),
    data: sha1(readAt(pool, e.offset, e.length)),
  }));
  return { seq: pool.stats().seq, entries };
}

/**
 * Assert that `fn` throws a ShelfError with `code` whose message contains every string of `mentions`.
 * Returns the error (or undefined when the assertion failed).
 */
function throwsShelf(t, fn, code, mentions = []) {
  const err = t.throws(fn, { instanceOf: ShelfError }, `expected ShelfError ${code}`);
  if (!err) return undefined;
  t.is(err.code, code, `wrong code; message: ${err.message}`);
  t.is(err.name, 'ShelfError');
  for (const m of mentions) {
    t.true(err.message.includes(m), `message ${JSON.stringify(err.message)} should name ${JSON.stringify(m)}`);
  }
  return err;
}

/** Run a fixture script synchronously: { status, signal, stdout, stderr }. */
function runFixture(script, args = [], { env = {}, execArgv = [], input, timeout = 120000 } = {}) {
  const r = spawnSync(process.execPath, [...execArgv, path.join(FIXTURES, script), ...args.map(String)], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    input,
    timeout,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

/** Describe a finished child for an assertion message. */
function childReport(r) {
  return `status=${r.status} signal=${r.signal}\n--- stdout (tail) ---\n${String(r.stdout).slice(-4000)}\n--- stderr (tail) ---\n${String(r.stderr).slice(-4000)}`;
}

/** JSON lines of a child's stdout. */
function jsonLines(stdout) {
  return String(stdout)
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
}

/**
 * A long-lived child holding a pool open (fixtures/holder.js). Resolves once the child reports its open.
 * `send(cmd)` posts one JSON command and resolves with the reply line. `kill(sig)` resolves on exit.
 */
function startHolder(t, poolPath, options = {}, env = {}) {
  const child = spawn(process.execPath, [path.join(FIXTURES, 'holder.js'), poolPath, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const waiting = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w.resolve(JSON.parse(line));
    }
  });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  exited.then(({ code, signal }) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`holder exited (code ${code}, signal ${signal}): ${stderr}`));
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  const next = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const ready = next();
  return ready.then((first) => ({
    child,
    first,
    exited,
    stderr: () => stderr,
    send(cmd) {
      const p = next();
      child.stdin.write(JSON.stringify(cmd) + '\n');
      return p;
    },
    kill(sig = 'SIGKILL') {
      child.kill(sig);
      return exited;
    },
  }));
}

/** Sorted listing of a directory. */
function ls(dir) {
  return fs.readdirSync(dir).sort();
}

// CRC32C (Castagnoli), independent of the engine's, for crafting log bytes in recovery tests.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** crc32c(seed, bytes) with the engine's convention: extend `seed` (0 to start). */
function crc32c(bytes, seed = 0) {
  let c = ~seed >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

module.exports = {
  native,
  Pool,
  ShelfError,
  FIXTURES,
  tempDir,
  openPool,
  pattern,
  sha1,
  writeAt,
  readAt,
  putBytes,
  dump,
  throwsShelf,
  runFixture,
  childReport,
  jsonLines,
  startHolder,
  ls,
  crc32c,
};
