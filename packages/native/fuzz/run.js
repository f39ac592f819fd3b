#!/usr/bin/env node
'use strict';
// run.js -- build and run the libFuzzer target over the engine's parsers (`npm run fuzz -- --seconds N`).
//
//   node packages/native/fuzz/run.js [--seconds N] [--jobs J] [--build-only] [--merge] [--rebuild] [--quiet]
//
// Needs clang with libFuzzer (Debian/Ubuntu: `apt-get install -y clang`). Not part of `npm ci` or `npm test`
// (packages/native/test/105.fuzz.test.js runs it briefly when clang is present, and otherwise replays the seed corpus
// through the normal addon).
//
//   build     clang++ -fsanitize=fuzzer,address,undefined over fuzz_replay.cpp + the engine's format.cpp,
//             index_log.cpp, allocator.cpp and util/*.cpp, into fuzz/build/fuzz_replay (rebuilt when a source is newer)
//   corpus    fuzz/corpus holds the committed seeds (made by make-corpus.js, grown with --merge); fuzz/regressions holds
//             hand-made inputs of engine bugs (run every time, never merged away); new inputs found by a run go to
//             fuzz/build/corpus, which persists between runs
//   findings  crashing/leaking/slow inputs are written to fuzz/build/artifacts/ and the exit code is non-zero
//   --merge   after the run, minimise build/corpus + corpus into corpus (to refresh the committed seeds)
// Prints one summary line and writes it to fuzz/build/last-run.json.
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const HERE = __dirname;
const SRC = path.join(HERE, '..', 'src');
const BUILD = path.join(HERE, 'build');
const BIN = path.join(BUILD, 'fuzz_replay');
const SEEDS = path.join(HERE, 'corpus');
const REGRESSIONS = path.join(HERE, 'regressions'); // hand-made inputs of engine bugs (open or fixed): always run, never merged away
const WORK = path.join(BUILD, 'corpus');
const ARTIFACTS = path.join(BUILD, 'artifacts');
// Open engine bugs the harness steps around so that a run can find others (see the #ifdefs in fuzz_replay.cpp).
// Remove an id here when the lead fixes it: its input in regressions/ then checks the fix.
const KNOWN_BUGS = []; // R11 (alignment wrap) was fixed in db439f5; fuzz/regressions/R11-alignment-wrap keeps it fixed
const SOURCES = [
  path.join(HERE, 'fuzz_replay.cpp'),
  ...['format.cpp', 'index_log.cpp', 'allocator.cpp', 'util/crc32c.cpp', 'util/errors.cpp', 'util/debug.cpp'].map((f) => path.join(SRC, f)),
];

function parseArgs(argv) {
  const o = { seconds: 60, jobs: 1, buildOnly: false, merge: false, rebuild: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`Expected a positive integer after ${a}`);
      return v;
    };
    if (a === '--seconds') o.seconds = num();
    else if (a === '--jobs') o.jobs = num();
    else if (a === '--build-only') o.buildOnly = true;
    else if (a === '--merge') o.merge = true;
    else if (a === '--rebuild') o.rebuild = true;
    else if (a === '--quiet') o.quiet = true;
    else throw new TypeError(`Unknown argument "${a}" (expected --seconds N, --jobs J, --build-only, --merge, --rebuild, --quiet)`);
  }
  return o;
}

/** The clang++ to use, or null. */
function findClang() {
  for (const c of [process.env.CXX_FUZZ, 'clang++', 'clang++-18', 'clang++-17', 'clang++-16', 'clang++-15', 'clang++-14']) {
    if (!c) continue;
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  return null;
}

function stale() {
  if (!fs.existsSync(BIN)) return true;
  const built = fs.statSync(BIN).mtimeMs;
  const headers = fs.readdirSync(SRC).filter((f) => f.endsWith('.hpp')).map((f) => path.join(SRC, f));
  return [...SOURCES, ...headers, __filename].some((f) => fs.statSync(f).mtimeMs > built);
}

function build(clang, force) {
  if (!force && !stale()) return { built: false, ms: 0 };
  fs.mkdirSync(BUILD, { recursive: true });
  const t0 = Date.now();
  const args = ['-std=c++17', '-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined',
    '-fno-omit-frame-pointer', `-I${SRC}`, ...KNOWN_BUGS.map((b) => `-DTSMM_FUZZ_SKIP_${b}`), ...SOURCES, '-o', BIN];
  const r = spawnSync(clang, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`building the fuzzer failed (${clang} ${args.join(' ')})`);
  }
  return { built: true, ms: Date.now() - t0 };
}

function ensureSeeds() {
  if (fs.existsSync(SEEDS) && fs.readdirSync(SEEDS).length > 0) return;
  const r = spawnSync(process.execPath, [path.join(HERE, 'make-corpus.js'), SEEDS], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('make-corpus.js failed (is the addon built?)');
}

function dirStats(dir) {
  if (!fs.existsSync(dir)) return { files: 0, bytes: 0 };
  let files = 0;
  let bytes = 0;
  for (const f of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, f));
    if (st.isFile()) {
      files++;
      bytes += st.size;
    }
  }
  return { files, bytes };
}

function runFuzzer(o) {
  fs.mkdirSync(WORK, { recursive: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const args = [`-max_total_time=${o.seconds}`, '-max_len=16384', '-rss_limit_mb=2048', '-malloc_limit_mb=512', '-timeout=10',
    '-print_final_stats=1', `-artifact_prefix=${ARTIFACTS}/`, WORK, SEEDS, REGRESSIONS];
  if (o.jobs > 1) args.unshift(`-jobs=${o.jobs}`, `-workers=${o.jobs}`);
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { cwd: BUILD, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = fs.createWriteStream(path.join(BUILD, 'last-run.log'));
    let tail = '';
    const stats = {};
    let lastPulse = 0;
    const onData = (d) => {
      log.write(d);
      tail = (tail + d).slice(-200000);
      for (const line of String(d).split('\n')) {
        const m = /^stat::(\w+):\s+(\d+)/.exec(line);
        if (m) stats[m[1]] = Number(m[2]);
        if (!o.quiet && /^#\d+\s+(pulse|INITED|DONE)/.test(line) && Date.now() - lastPulse > 5000) {
          lastPulse = Date.now();
          process.stderr.write(`${line}\n`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code, signal) => {
      log.end();
      resolve({ code, signal, stats, tail });
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const clang = findClang();
  if (!clang) {
    process.stderr.write('fuzz: clang++ not found. Install it (Debian/Ubuntu: apt-get install -y clang) or set CXX_FUZZ.\n');
    process.exit(2);
  }
  const b = build(clang, o.rebuild);
  if (b.built) process.stderr.write(`fuzz: built ${path.relative(process.cwd(), BIN)} with ${clang} in ${(b.ms / 1000).toFixed(1)} s\n`);
  if (o.buildOnly) return;
  ensureSeeds();
  const t0 = Date.now();
  const r = await runFuzzer(o);
  const secs = (Date.now() - t0) / 1000;
  const last = [...r.tail.matchAll(/^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)\/(\S+)/gm)].pop();
  const corpus = dirStats(WORK);
  const seeds = dirStats(SEEDS);
  const artifacts = fs.readdirSync(ARTIFACTS).filter((f) => fs.statSync(path.join(ARTIFACTS, f)).mtimeMs >= t0);
  const summary = {
    target: 'fuzz_replay',
    seconds: Number(secs.toFixed(1)),
    jobs: o.jobs,
    execs: r.stats.number_of_executed_units ?? (last ? Number(last[1]) : null),
    execPerSec: r.stats.average_exec_per_sec ?? null,
    coverage: last ? { edges: Number(last[2]), features: Number(last[3]) } : null,
    corpus: { files: corpus.files, bytes: corpus.bytes, seedFiles: seeds.files },
    peakRssMb: r.stats.peak_rss_mb ?? null,
    findings: artifacts.map((f) => path.join(ARTIFACTS, f)),
    exit: r.signal ? `signal ${r.signal}` : r.code,
    when: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(BUILD, 'last-run.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(
    `fuzz_replay: ${summary.execs} executions in ${summary.seconds} s (${summary.execPerSec} exec/s, ${o.jobs} job(s)), ` +
      `coverage ${summary.coverage ? `${summary.coverage.edges} edges / ${summary.coverage.features} features` : '?'}, ` +
      `corpus ${corpus.files} files / ${corpus.bytes} bytes (seeds ${seeds.files}), ` +
      `findings: ${artifacts.length ? artifacts.join(', ') : 'none'}\n`,
  );
  if (o.merge) {
    const next = `${SEEDS}.new`;
    fs.rmSync(next, { recursive: true, force: true });
    fs.mkdirSync(next);
    const m = spawnSync(BIN, ['-merge=1', '-max_len=16384', next, SEEDS, WORK], { cwd: BUILD, encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`merge failed: ${m.stderr.slice(-2000)}`);
    fs.rmSync(SEEDS, { recursive: true, force: true });
    fs.renameSync(next, SEEDS);
    const s = dirStats(SEEDS);
    process.stdout.write(`fuzz: merged the corpus into ${path.relative(process.cwd(), SEEDS)}: ${s.files} files / ${s.bytes} bytes\n`);
  }
  if (artifacts.length || (r.code !== 0 && r.code !== null) || r.signal) {
    process.stderr.write(r.tail.slice(-6000));
    process.exit(1);
  }
}

main().catch((err) => {
  process.stderr.write(`fuzz: ${err.message}\n`);
  process.exit(1);
});
