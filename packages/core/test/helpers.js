'use strict';
// Shared helpers for @tsmm/core tests (not a test file: ava only runs *.test.js).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { spawnSync } = require('node:child_process');

/** A fresh temp dir, removed when the test ends. */
function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A new shelf in a fresh temp dir, closed (forced) and removed when the test ends. */
function freshShelf(t, opts = {}, name = 's') {
  const { shelf } = require('@tsmm/core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  const s = shelf(name, { sizeMb: 16, pmemPath: dir, forceNew: true, ...opts });
  t.teardown(() => {
    try { s.close({ force: true }); } catch { /* already failing */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { s, dir, name };
}

function isNd(v) {
  return v !== null && typeof v === 'object' && Array.isArray(v.shape) && Array.isArray(v.stride) && typeof v.get === 'function';
}

function ndValues(a) {
  const out = [];
  const rec = (idx, d) => {
    if (d === a.shape.length) { out.push(String(a.get(...idx))); return; }
    for (let i = 0; i < a.shape[d]; i++) rec([...idx, i], d + 1);
  };
  rec([], 0);
  return out;
}

function hex(u8) {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex');
}

/** A JSON-able description of a value: kind, class, dtype, shape, order and contents. Same in every process. */
function describe(v) {
  if (isNd(v)) {
    return { kind: 'ndarray', data: v.data.constructor.name, dtype: v.dtype, shape: v.shape.slice(), stride: v.stride.slice(), values: ndValues(v) };
  }
  if (Buffer.isBuffer(v)) return { kind: 'Buffer', hex: hex(v) };
  if (v instanceof ArrayBuffer) return { kind: 'ArrayBuffer', hex: hex(new Uint8Array(v)) };
  if (v instanceof DataView) return { kind: 'DataView', hex: hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  if (ArrayBuffer.isView(v)) return { kind: 'typed', class: v.constructor.name, values: Array.from(v, String) };
  if (v === null || typeof v !== 'object') {
    return { kind: 'scalar', type: v === null ? 'null' : typeof v, value: Object.is(v, -0) ? '-0' : String(v) };
  }
  return { kind: 'structured', class: v.constructor ? v.constructor.name : 'null-proto', text: util.inspect(v, { depth: Infinity, showHidden: false, breakLength: Infinity, sorted: true }) };
}

const FIXTURE = path.join(__dirname, 'fixtures');

/** Run a fixture script in a separate node process; returns {status, stdout, stderr, signal}. */
function runFixture(script, args, opts = {}) {
  return spawnSync(process.execPath, [path.join(FIXTURE, script), ...args], { encoding: 'utf8', ...opts });
}

module.exports = { tempDir, freshShelf, describe, ndValues, runFixture, FIXTURE, isNd };

/** process.env plus `extra`, with NODE_PATH set so that `node -e "require('@tsmm/core')"` works from any directory. */
function nodeEnv(extra = {}) {
  const root = path.resolve(__dirname, '..', '..', '..', 'node_modules');
  return { ...process.env, NODE_PATH: root, ...extra };
}
module.exports.nodeEnv = nodeEnv;
