'use strict';
// Hostile input at the native API (issue 7, "Hostile input"): a table of calls with hostile paths, options, sizes,
// names, offsets, metas, views, and calls on read-only and closed pools (fixtures/130.hostile-rows.js). Every row
// expects one outcome: 'ok', an ESHELF_* code (ShelfError) or TypeError/RangeError (misuse). The rows run in order in
// one child process, so a crash (segfault, abort) is reported with the row that caused it.
// Shelf-level rows (names, values, dtypes, transactions): test/730.hostile-shelf.test.js.
const test = require('ava');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDir, FIXTURES, childReport } = require('./helpers');
const { rows } = require('./fixtures/130.hostile-rows');

test('every hostile call on the native API gets its expected error, and nothing crashes', (t) => {
  const dir = tempDir(t);
  const r = spawnSync(process.execPath, [path.join(FIXTURES, '130.hostile-child.js'), dir], { encoding: 'utf8', timeout: 120000 });
  const lines = String(r.stdout).split('\n');
  const results = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const started = lines.filter((l) => l.startsWith('S ')).map((l) => Number(l.slice(2)));
  if (!lines.includes('DONE')) {
    const i = started.at(-1);
    t.fail(`the child died on row ${i} (${rows[i] && rows[i][0]}): ${childReport(r)}`);
    return;
  }
  t.is(results.length, rows.length);
  const wrong = [];
  for (const res of results) {
    const expect = rows[res.i][1].split('|');
    if (!expect.includes(res.got)) wrong.push(`${res.id}: expected ${rows[res.i][1]}, got ${res.got} (${res.message})`);
  }
  t.deepEqual(wrong, [], `${wrong.length} of ${rows.length} rows`);
  t.log(`${rows.length} hostile rows, all with their expected outcome`);
});
