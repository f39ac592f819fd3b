'use strict';
// Hostile input at the shelf API (issue 7, "Hostile input" and "Security"): shelf names and options, variable names
// (empty, 256 bytes, invalid UTF-8, '..', '/', NUL, internal and reserved members), values of every JS type, ndarray
// shapes and dtypes, transactions used wrongly, closed shelves, and hostile pools whose metas are not JSON, claim
// unknown codecs, try prototype pollution, or describe arrays larger than their extents -- every row expects its
// outcome (test/fixtures/730.hostile-shelf-rows.js). Rows run in one child so a crash names its row.
// Engine-level rows: packages/native/test/130.hostile-input.test.js.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { rows } = require('./fixtures/730.hostile-shelf-rows');

test('every hostile call on the shelf API gets its expected outcome, and nothing crashes', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', '730.hostile-shelf-child.js'), dir], { encoding: 'utf8', timeout: 120000 });
  const lines = String(r.stdout).split('\n');
  if (!lines.includes('DONE')) {
    const started = lines.filter((l) => l.startsWith('S ')).map((l) => Number(l.slice(2)));
    const i = started.at(-1);
    t.fail(`the child died on row ${i} (${rows[i] && rows[i][0]}): status ${r.status} signal ${r.signal}\n${String(r.stderr).slice(-3000)}`);
    return;
  }
  const results = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  t.is(results.length, rows.length);
  const wrong = results.filter((x) => !rows[x.i][1].split('|').includes(x.got)).map((x) => `${x.id}: expected ${rows[x.i][1]}, got ${x.got} (${x.message})`);
  t.deepEqual(wrong, [], `${wrong.length} of ${rows.length} rows`);
  t.log(`${rows.length} hostile shelf rows, all with their expected outcome`);
});
