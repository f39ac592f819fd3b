'use strict';
// advise(): paging hints on shelved arrays. 'dontneed' must drop the pages from the process (RSS falls) while the
// values stay on the shelf and come back on the next access -- the way a pass over an array larger than RAM
// keeps its resident set small.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { shelf, ndarray } = require('@tsmm/core');

const MiB = 2 ** 20;

// rssFileKiB -- resident file-backed pages of this process (the shelf mapping is file-backed).
function rssFileKiB() {
  const m = /RssFile:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

test("advise('dontneed') releases an array's pages and keeps its values", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = shelf('adv', { sizeMb: 160, pmemPath: dir, forceNew: true });
  t.teardown(() => s.close({ force: true }));
  const n = (128 * MiB) / 8;
  s.x = ndarray([n], 'float64');
  const x = s.x;
  for (let i = 0; i < n; i++) x.data[i] = i; // touch every page
  const before = rssFileKiB();
  x.advise('dontneed');
  const after = rssFileKiB();
  t.true(before - after > (96 * MiB) / 1024, `RssFile ${before} kB -> ${after} kB`);
  let bad = 0;
  for (let i = 0; i < n; i += 4099) if (x.data[i] !== i) bad++;
  t.is(bad, 0, 'values read back after dontneed');
  t.is(x.data[n - 1], n - 1);
});

test('advise() hints and its range checks', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = shelf('adv2', { sizeMb: 8, pmemPath: dir, forceNew: true });
  t.teardown(() => s.close({ force: true }));
  s.y = ndarray([1000], 'int32');
  s.y.data.fill(7);
  for (const a of ['willneed', 'sequential', 'random', 'normal', 'dontneed']) t.notThrows(() => s.y.advise(a, 10, 100), a);
  t.is(s.y.data[500], 7);
  t.throws(() => s.y.advise('dontneed', 990, 20), { instanceOf: RangeError });
  t.throws(() => s.y.advise('dontneed', -1, 2), { instanceOf: RangeError });
  t.throws(() => s.y.advise('forget'), { instanceOf: RangeError, message: /unknown advice/ });
});
