'use strict';
// The examples that need only @tsmm/core run to completion with their one command, and the TypeScript example
// type-checks. (The tfjs examples and the demo need @tsmm/tfjs-backend, which core's tests do not load.)
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..', '..');

function run(t, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, TSMM_PMEM_PATH: dir };
  delete env.TSMM_DEBUG;
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env });
  t.is(r.status, 0, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('basic-shelf (TypeScript) follows the seed README and shows both of its errors', (t) => {
  const out = run(t, ['examples/ts-run.js', 'examples/basic-shelf/index.ts']);
  t.regex(out, />>> s\.x\[1\]\[1\] = 9 # explicit slice assignment\n9n/);
  t.regex(out, /ESHELF_EXISTS: 'y' is already on shelf 'myShelf' and cannot be implicitly overwritten/);
  t.regex(out, /ESHELF_TYPE: non-shelf type \(f, function\) cannot be put on the shelf/);
  t.regex(out, />>> s\.items\n\[ 'x' \]/);
});

test('the .ts examples type-check against the built @tsmm/core typings', (t) => {
  const tsc = require.resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'examples'], { cwd: ROOT, encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
});

test('transactions: commit, exception and SIGKILL all keep the total', (t) => {
  const out = run(t, ['examples/transactions/index.js']);
  const totals = [...out.matchAll(/total (\d+)/g)].map((m) => m[1]);
  t.is(totals.length, 5);
  t.true(totals.every((x) => x === '3600'));
  t.regex(out, /-> SIGKILL/);
});

test('interop: exports and re-imports .npy and safetensors', (t) => {
  const out = run(t, ['examples/interop/index.js']);
  t.regex(out, /grid\[2\]\[3\] = 2\.3, imported\/weight\[1\]\[2\] = 16, steps = 123456789012345/);
});

test('large-array: a small run fills, re-opens and samples the array', (t) => {
  const out = run(t, ['examples/large-array/index.js', '--size', '8m']);
  t.regex(out, /re-opened in \d+ ms: s\.x\.shape = \[8388608\]/);
  t.regex(out, /removed the shelf/);
});
