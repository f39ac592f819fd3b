'use strict';
// The README's array example must run as written: extract the ```ts block under "## Arrays on a shelf", run it as an
// ES module (TypeScript syntax-free by design) in a fresh directory, then check the shelf it leaves behind.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');

function block(md, heading) {
  const at = md.indexOf(heading);
  if (at < 0) return null;
  const m = /```ts\n([\s\S]*?)```/.exec(md.slice(at));
  return m ? m[1] : null;
}

test('the README array example runs as written and leaves x and meta on the shelf', (t) => {
  const code = block(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'), '## Arrays on a shelf');
  t.truthy(code, 'README has the example');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-readme-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  fs.writeFileSync(path.join(dir, 'example.mjs'), code);
  const env = { ...process.env };
  delete env.TSMM_PMEM_PATH; // the default location: ./.shelves when /mnt/pmem0 is not writable
  const run = (file) => spawnSync(process.execPath, [file], { cwd: dir, env, encoding: 'utf8' });
  const r = run('example.mjs');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /\[ 'meta', 'x', 'y' \] \d+% used/);
  fs.writeFileSync(path.join(dir, 'check.mjs'), `
    import { shelf } from '@tsmm/core';
    const s = shelf('myShelf');
    console.log(JSON.stringify({ items: s.items, x11: String(s.x.get(1, 1)), x00: String(s.x.get(0, 0)), x22: String(s.x.get(2, 2)), meta: s.meta }));
    s.close();`);
  const pool = fs.existsSync('/mnt/pmem0') ? null : path.join(dir, '.shelves', 'myShelf.map');
  const c = run('check.mjs');
  t.is(c.status, 0, c.stderr);
  t.deepEqual(JSON.parse(c.stdout), { items: ['meta', 'x'], x11: '10', x00: '42', x22: '1', meta: { run: 7, tags: ['a', 'b'] } });
  if (pool) t.true(fs.existsSync(pool), 'the shelf went to ./.shelves');
});
