'use strict';
// The `tsmm` CLI, run as a user runs it: `node packages/core/dist/cli/tsmm.js ...` in a child process.
// Exit codes: 0 ok, 1 corrupt, 2 usage, 3 not found, 4 locked, 5 other failure.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const core = require('@tsmm/core');

const { shelf, ndarray, internals } = core;
const CLI = path.join(path.dirname(require.resolve('@tsmm/core/package.json')), 'dist', 'cli', 'tsmm.js');
const CORE = require.resolve('@tsmm/core');

function tmp(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function tsmm(dir, args, env = {}) {
  const envAll = { ...process.env, ...env };
  if (!('TSMM_DEBUG' in env)) delete envAll.TSMM_DEBUG;
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: envAll });
  return { code: r.status, out: r.stdout, err: r.stderr, json: () => JSON.parse(r.stdout) };
}

/** A closed shelf `name` in `dir` with a few variables. */
function demoShelf(dir, name = 'demo') {
  const s = shelf(name, { sizeMb: 8, pmemPath: dir, forceNew: true });
  s.x = ndarray([2, 3], 'float64');
  for (let i = 0; i < 6; i++) s.x.data[i] = i + 0.5;
  s.y = new Int32Array([1, 2, 3]);
  s.n = 7;
  s.save({ w: new Float32Array([1, 2]), b: new Float32Array([3]) }, 'model');
  s.close();
  return path.join(dir, name);
}

test('usage: --help, --version, no command, unknown command or option, wrong arity (exit 0 / 2)', (t) => {
  const dir = tmp(t);
  const help = tsmm(dir, ['--help']);
  t.is(help.code, 0);
  t.regex(help.out, /\n  ls <shelf> /);
  t.regex(help.out, /exit codes: 0 ok, 1 corrupt, 2 usage/);
  t.is(tsmm(dir, ['--version']).code, 0);
  t.is(tsmm(dir, ['export', '--help']).code, 0);
  const none = tsmm(dir, []);
  t.is(none.code, 2);
  t.regex(none.err, /usage: tsmm <command>/);
  const bad = tsmm(dir, ['frobnicate', 'x']);
  t.is(bad.code, 2);
  t.regex(bad.err, /unknown command "frobnicate"/);
  t.is(tsmm(dir, ['ls', 'x', '--colour']).code, 2);
  const na = tsmm(dir, ['ls', 'x', '--size-mb', '4']);
  t.is(na.code, 2);
  t.regex(na.err, /--size-mb does not apply to 'ls'/);
  t.is(tsmm(dir, ['ls']).code, 2);
  t.is(tsmm(dir, ['ls', 'a', 'b']).code, 2);
  const j = tsmm(dir, ['bogus', '--json']);
  t.is(j.code, 2);
  t.is(j.json().error.code, 'EUSAGE');
});

test('ls: variables with kind, dtype, shape, size and used %, as text and JSON', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const r = tsmm(dir, ['ls', 'demo']);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /^demo: 6 variables, \d+% used \(.* of 8 MiB\)/);
  t.regex(r.out, /x\s+ndarray\s+float64\s+\[2,3\]\s+48 B/);
  t.regex(r.out, /y\s+typed\s+int32\s+\[3\]\s+12 B/);
  t.regex(r.out, /model\/w\s+typed\s+float32\s+\[2\]/);
  const j = tsmm(dir, ['ls', './demo.data', '--json']).json();
  t.is(j.size, 8 * 2 ** 20);
  t.deepEqual(j.variables.map((v) => v.name), ['model', 'model/b', 'model/w', 'n', 'x', 'y']);
  t.deepEqual(j.variables.find((v) => v.name === 'x'), { name: 'x', kind: 'ndarray', dtype: 'float64', shape: [2, 3], bytes: 48 });
  t.true(j.usedPercent >= 1);
});

test('inspect: pool statistics and the table; one variable in detail with its values', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const r = tsmm(dir, ['inspect', 'demo']);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /medium\s+\w+, persist by/);
  t.regex(r.out, /entries\s+6/);
  t.regex(r.out, /name\s+kind\s+dtype\s+shape\s+bytes\s+offset/);
  const x = tsmm(dir, ['inspect', 'demo', 'x']);
  t.is(x.code, 0, x.err);
  t.regex(x.out, /header\s+\{"dtype":"float64","shape":\[2,3\]/);
  t.regex(x.out, /array\(\[\[0\.5, 1\.5, 2\.5\],\s+\[3\.5, 4\.5, 5\.5\]\]\)/);
  const n = tsmm(dir, ['inspect', 'demo', 'n', '--json']).json();
  t.is(n.kind, 'scalar');
  t.is(n.bytes, 0);
  const j = tsmm(dir, ['inspect', 'demo', '--json']).json();
  t.is(j.stats.entries, 6);
  const missing = tsmm(dir, ['inspect', 'demo', 'nope']);
  t.is(missing.code, 3);
  t.regex(missing.err, /ESHELF_NOT_FOUND: no variable 'nope'/);
});

test('verify: a sound shelf is 0 and lists what was checked', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const r = tsmm(dir, ['verify', 'demo']);
  t.is(r.code, 0, r.out + r.err);
  t.regex(r.out, /ok\s+superblock: magic, version 1, crc 0x[0-9a-f]{8}/);
  t.regex(r.out, /ok\s+index log: \d+ batches .* every checksum matches/);
  t.regex(r.out, /ok\s+entries: 6 decoded/);
  t.regex(r.out, /demo: sound$/m);
  const j = tsmm(dir, ['verify', 'demo', '--json']).json();
  t.true(j.ok);
  t.deepEqual(j.problems, []);
});

test('verify: a torn last batch is a warning (exit 0); damage in the middle of the log is corruption (exit 1)', (t) => {
  const dir = tmp(t);
  const base = demoShelf(dir);
  const map = fs.readFileSync(`${base}.map`);
  // torn: garble the last 16 bytes of the last batch
  const torn = Buffer.from(map);
  for (let i = torn.length - 16; i < torn.length; i++) torn[i] ^= 0x5a;
  fs.writeFileSync(`${base}.map`, torn);
  const r = tsmm(dir, ['verify', 'demo', '--json']);
  t.is(r.code, 0, r.out);
  const j = r.json();
  t.true(j.ok);
  t.is(j.warnings.length, 1);
  t.regex(j.warnings[0], /are not a valid batch \(crc 0x[0-9a-f]+, its bytes give 0x[0-9a-f]+\): a torn append/);
  // middle: garble the payload of the first batch (later batches are intact)
  const mid = Buffer.from(map);
  mid[64 + 40 + 30] ^= 0xff;
  fs.writeFileSync(`${base}.map`, mid);
  const m = tsmm(dir, ['verify', 'demo']);
  t.is(m.code, 1, m.out);
  t.regex(m.out, /FAIL\s+.*demo\.map: the batch at byte 64 \(after seq 0\) is damaged \(crc .*\) but a valid batch \(seq 2\) follows/);
  t.regex(m.out, /FAIL\s+engine: .*batch 1 at byte 64/);
  t.regex(m.out, /CORRUPT — 2 problems/);
});

test('verify: a damaged superblock, a missing index, bad entry meta (exit 1); no shelf (exit 3)', (t) => {
  const dir = tmp(t);
  const base = demoShelf(dir);
  const data = fs.readFileSync(`${base}.data`);
  const fd = fs.openSync(`${base}.data`, 'r+');
  fs.writeSync(fd, Buffer.from([data[70] ^ 0xff]), 0, 1, 70); // inside the crc-covered superblock
  fs.closeSync(fd);
  const sb = tsmm(dir, ['verify', 'demo']);
  t.is(sb.code, 1);
  t.regex(sb.out, /FAIL\s+.*demo\.data: superblock crc is 0x[0-9a-f]{8}, its bytes give 0x[0-9a-f]{8}/);

  const base2 = demoShelf(dir, 'two');
  fs.renameSync(`${base2}.map`, `${base2}.map.gone`);
  const nomap = tsmm(dir, ['verify', 'two', '--json']);
  t.is(nomap.code, 1);
  t.is(nomap.json().problems.some((p) => /two\.map is missing/.test(p)), true);

  const s = shelf('meta', { sizeMb: 1, pmemPath: dir, forceNew: true });
  const inner = internals(s);
  inner.commit([{ type: 'put', name: 'raw', offset: 0, length: 0, meta: Buffer.from('not json') }]);
  s.good = new Float64Array(1);
  const off = inner.pool.alloc(8);
  inner.commit([{ type: 'put', name: 'liar', offset: off, length: 8, meta: inner.encodeMeta('ndarray', { dtype: 'float64', shape: [3], stride: [1], order: 'C' }) }]);
  s.close();
  const meta = tsmm(dir, ['verify', 'meta']);
  t.is(meta.code, 1);
  t.regex(meta.out, /FAIL\s+entry 'raw': meta of 'raw' is not valid JSON/);
  t.regex(meta.out, /FAIL\s+entry 'liar' \(ndarray\): .*3 float64 elements \(24 bytes\) but the extent is 8 bytes/);
  t.regex(meta.out, /CORRUPT — 2 problems/);

  const none = tsmm(dir, ['verify', 'nothing']);
  t.is(none.code, 3);
  t.regex(none.err, /ESHELF_NOT_FOUND: no shelf at nothing/);
});

test('verify: a transaction interrupted by a crash is reported as a warning, and does not change the shelf', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const child = spawnSync(process.execPath, ['-e', `
    const { shelf } = require(${JSON.stringify(CORE)});
    const s = shelf('demo', { pmemPath: ${JSON.stringify(dir)} });
    s.txBegin(['x', 'y']);
    s.x.data[0] = 99;
    process.exit(0); // dies inside the transaction
  `], { encoding: 'utf8' });
  t.is(child.status, 0, child.stderr);
  const before = fs.readFileSync(path.join(dir, 'demo.map'));
  const r = tsmm(dir, ['verify', 'demo', '--json']);
  t.is(r.code, 0, r.out);
  t.true(r.json().warnings.some((w) => /interrupted transaction over 'x', 'y'/.test(w)));
  t.deepEqual(fs.readFileSync(path.join(dir, 'demo.map')), before, 'verify wrote nothing');
});

test('compact and grow change the shelf; grow validates its size', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const c = tsmm(dir, ['compact', 'demo', '--json']);
  t.is(c.code, 0, c.err);
  const cj = c.json();
  t.true(cj.logBytesAfter > 0);
  t.is(typeof cj.logBytesBefore, 'number');
  const g = tsmm(dir, ['grow', 'demo', '--size-mb', '16']);
  t.is(g.code, 0, g.err);
  t.regex(g.out, /demo: 8 MiB -> 16 MiB/);
  t.is(tsmm(dir, ['ls', 'demo', '--json']).json().size, 16 * 2 ** 20);
  const small = tsmm(dir, ['grow', 'demo', '--size-mb', '4']);
  t.is(small.code, 2);
  t.regex(small.err, /would not enlarge/);
  t.is(tsmm(dir, ['grow', 'demo']).code, 2);
  t.is(tsmm(dir, ['grow', 'demo', '--size-mb', 'lots']).code, 2);
  t.is(tsmm(dir, ['verify', 'demo']).code, 0);
});

test('a shelf held by another writer: compact is ESHELF_LOCKED (exit 4), read-only commands still work', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const s = shelf('demo', { pmemPath: dir });
  t.teardown(() => s.close());
  const r = tsmm(dir, ['compact', 'demo']);
  t.is(r.code, 4);
  t.regex(r.err, /^tsmm: ESHELF_LOCKED: /);
  t.is(tsmm(dir, ['ls', 'demo']).code, 0);
  t.is(tsmm(dir, ['verify', 'demo']).code, 0);
});

test('export to .npy and safetensors, import back; errors are one line with a stable exit code', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const e1 = tsmm(dir, ['export', 'demo', 'x', '-o', 'x.npy']);
  t.is(e1.code, 0, e1.err);
  t.regex(e1.out, /wrote x\.npy: 1 array \(x\)/);
  const npy = fs.readFileSync(path.join(dir, 'x.npy'));
  t.is(npy.toString('latin1', 10, 69), "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }");

  const e2 = tsmm(dir, ['export', 'demo', 'model/', '-o', 'm.safetensors', '--strip-prefix', '--metadata', 'epoch=3', '--json']);
  t.is(e2.code, 0, e2.err);
  t.deepEqual(e2.json().names, ['model/b', 'model/w']);
  const h = core.readSafetensorsHeader(path.join(dir, 'm.safetensors'));
  t.deepEqual(h.tensors.map((x) => x.name), ['b', 'w']);
  t.deepEqual(h.metadata, { epoch: '3' });

  const multi = tsmm(dir, ['export', 'demo', 'model/', '-o', 'm.npy']);
  t.is(multi.code, 2);
  t.regex(multi.err, /a \.npy file holds one array but 'model\/' selects 2/);
  t.is(tsmm(dir, ['export', 'demo', 'n', '-o', 'n.npy']).code, 5, 'a scalar is ESHELF_TYPE');
  t.is(tsmm(dir, ['export', 'demo', 'nope', '-o', 'n.npy']).code, 3);
  t.is(tsmm(dir, ['export', 'demo', 'x']).code, 2, 'no -o');
  t.is(tsmm(dir, ['export', 'demo', 'x', '-o', 'x.bin']).code, 2, 'format unknown');

  const i1 = tsmm(dir, ['import', 'm.safetensors', 'new', 'net/', '--size-mb', '4']);
  t.is(i1.code, 0, i1.err);
  t.regex(i1.out, /imported 2 arrays onto new: net\/b, net\/w/);
  const i2 = tsmm(dir, ['import', 'x.npy', 'new', '--json']);
  t.is(i2.code, 0, i2.err);
  t.deepEqual(i2.json().names, ['x']);
  const again = tsmm(dir, ['import', 'x.npy', 'new']);
  t.is(again.code, 5);
  t.regex(again.err, /^tsmm: ESHELF_EXISTS: 'x' is already on shelf 'new'/);
  t.notRegex(again.err, /\n\s+at /, 'no stack trace');
  t.is(tsmm(dir, ['import', 'x.npy', 'new', '--replace']).code, 0);
  const s = shelf('new', { pmemPath: dir, readOnly: true });
  t.deepEqual(s.items, ['net/b', 'net/w', 'x']);
  t.deepEqual(Array.from(s.x.data), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  t.deepEqual(Array.from(s['net/w'].data), [1, 2]);
  s.close();

  t.is(tsmm(dir, ['import', 'missing.npy', 'new']).code, 3);
  t.is(tsmm(dir, ['import', 'x.npy', 'absent']).code, 3, 'no shelf and no --size-mb');
  fs.writeFileSync(path.join(dir, 'junk.npy'), 'junk');
  const junk = tsmm(dir, ['import', 'junk.npy', 'new', '--json']);
  t.is(junk.code, 1);
  t.is(junk.json().error.code, 'ESHELF_CORRUPT');
});

test('TSMM_DEBUG shows the stack trace; --progress draws a bar on stderr even without a terminal', (t) => {
  const dir = tmp(t);
  demoShelf(dir);
  const quiet = tsmm(dir, ['inspect', 'demo', 'nope']);
  t.notRegex(quiet.err, /\n\s+at /);
  const loud = tsmm(dir, ['inspect', 'demo', 'nope'], { TSMM_DEBUG: '1' });
  t.is(loud.code, 3);
  t.regex(loud.err, /\n\s+at /);
  const p = tsmm(dir, ['export', 'demo', 'x', '-o', 'x.npy', '--progress']);
  t.is(p.code, 0, p.err);
  t.regex(p.err, /export x \[.*\] 100% \| 48 B of 48 B/);
  t.is(tsmm(dir, ['export', 'demo', 'x', '-o', 'y.npy']).err, '', 'no bar for small exports off a terminal');
});
