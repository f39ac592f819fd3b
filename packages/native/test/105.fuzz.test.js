'use strict';
// The libFuzzer harness (packages/native/fuzz/, `npm run fuzz -- --seconds N`) inside `npm test`, in one of two ways,
// so that this test never silently does nothing:
//   - clang++ present: build fuzz_replay (cached in fuzz/build) and fuzz for 20 s; any finding fails the test;
//   - no clang: replay the committed corpus (fuzz/corpus + fuzz/regressions) through the normal addon as real pool files
//     (fixtures/105.corpus-child.js): every input must open or fail with a ShelfError, and none may crash.
const test = require('ava');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDir, FIXTURES, childReport } = require('./helpers');

const FUZZ = path.join(__dirname, '..', 'fuzz');
const CORPUS = path.join(FUZZ, 'corpus');
const REGRESSIONS = path.join(FUZZ, 'regressions');

function hasClang() {
  for (const c of [process.env.CXX_FUZZ, 'clang++', 'clang++-18', 'clang++-17', 'clang++-16', 'clang++-15', 'clang++-14']) {
    if (c && spawnSync(c, ['--version']).status === 0) return true;
  }
  return false;
}

test('the seed corpus replays through the normal addon: every input opens or is refused with a ShelfError', (t) => {
  const dir = tempDir(t);
  const inputs = [...fs.readdirSync(CORPUS), ...fs.readdirSync(REGRESSIONS)];
  t.true(inputs.length >= 20, `${inputs.length} corpus inputs`);
  const r = spawnSync(process.execPath, [path.join(FIXTURES, '105.corpus-child.js'), dir, CORPUS, REGRESSIONS], { encoding: 'utf8', timeout: 300000 });
  const lines = String(r.stdout).split('\n');
  const started = lines.filter((l) => l.startsWith('S ')).map((l) => l.slice(2));
  const failures = lines.filter((l) => l.startsWith('F ')).map((l) => JSON.parse(l.slice(2)));
  const done = lines.filter((l) => l.startsWith('D ')).map((l) => JSON.parse(l.slice(2)))[0];
  t.truthy(done, `the replay died on input ${started.at(-1)}: ${childReport(r)}`);
  t.deepEqual(failures, []);
  if (done) {
    t.is(done.inputs, inputs.length);
    t.log(`${done.inputs} inputs: ${done.opened} opens succeeded, ${done.refused} refused (${JSON.stringify(done.byCode)})`);
  }
});

if (hasClang()) {
  test('clang is here: fuzz the engine parsers for 20 s (fuzz/run.js) without a finding', (t) => {
    const r = spawnSync(process.execPath, [path.join(FUZZ, 'run.js'), '--seconds', '20', '--quiet'], { encoding: 'utf8', timeout: 600000 });
    t.is(r.status, 0, childReport(r));
    const m = /fuzz_replay: (\d+) executions .* corpus (\d+) files .* findings: (.*)$/m.exec(r.stdout);
    t.truthy(m, r.stdout);
    if (!m) return;
    t.true(Number(m[1]) > 1000, `${m[1]} executions`);
    t.is(m[3], 'none');
    t.log(m[0]);
  });
} else {
  test('clang is not here: the corpus replay above stands in for the fuzzer (install clang to fuzz)', (t) => {
    t.true(fs.readdirSync(CORPUS).length >= 20);
  });
}
