#!/usr/bin/env node
// bench/run.js -- tsmm measured against its peers and the physical limits, in one run.
//
//   npm run bench                      full run: every row but P7, >= 7 recorded runs per side after 2 warm-ups
//   npm run bench -- --quick           the same rows at reduced sizes/runs (5 runs, 1 warm-up), under 2 minutes
//   npm run bench -- --huge            also P7 (an array of 1.5x RAM on disk; needs that much free disk, takes minutes)
//   npm run bench -- --rows P4,P5      only these rows
//   npm run bench -- --prof            write a V8 CPU profile per row into bench/results/<row>.cpuprofile
//   options: --runs N --warmup N --dir DIR (disk medium, default os.tmpdir()) --shm DIR (default /dev/shm)
//            --huge-gib G (P7 size instead of 1.5x RAM) --no-write (do not touch bench/results/latest.*) --keep
//
// Every row runs in its own node process (bench/lib/child.js) so that heaps, page cache pressure and tfjs global state
// of one row do not leak into the next. Output: the markdown table on stdout, bench/results/latest.json (everything,
// including every run's time and the machine), bench/results/latest.svg (the ratios as a bar chart).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { machineInfo, machineLine } = require('./lib/machine');
const { markdown, svg } = require('./lib/report');

const ROWS = [
  ['P1', 'p1_checkpoint.js'],
  ['P1b', 'p1b_save.js'],
  ['P2', 'p2_restore.js'],
  ['P3', 'p3_train_step.js'],
  ['P4', 'p4_ndarray_ops.js'],
  ['P5', 'p5_persist_offset.js'],
  ['P6', 'p6_open.js'],
  ['P7', 'p7_huge.js'],
];

function parseArgs(argv) {
  const a = { quick: false, huge: false, prof: false, write: true, keep: false, rows: null, runs: null, warmup: null,
    dir: os.tmpdir(), shm: '/dev/shm', hugeGiB: null };
  const known = new Set(['--quick', '--huge', '--prof', '--no-write', '--keep', '--rows', '--runs', '--warmup', '--dir', '--shm', '--huge-gib', '--help', '-h']);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!known.has(k)) throw new Error(`unknown option ${k} (see the head of bench/run.js or bench/README.md)`);
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--quick') a.quick = true;
    else if (k === '--huge') a.huge = true;
    else if (k === '--prof') a.prof = true;
    else if (k === '--no-write') a.write = false;
    else if (k === '--keep') a.keep = true;
    else if (k === '--rows') a.rows = val().split(',').map((s) => s.trim().toUpperCase().replace('B', 'b'));
    else if (k === '--runs') a.runs = Number(val());
    else if (k === '--warmup') a.warmup = Number(val());
    else if (k === '--dir') a.dir = path.resolve(val());
    else if (k === '--shm') a.shm = path.resolve(val());
    else if (k === '--huge-gib') a.hugeGiB = Number(val());
    else if (k === '--help' || k === '-h') a.help = true;
  }
  if (a.runs !== null && !(Number.isInteger(a.runs) && a.runs >= 5)) throw new Error('--runs must be an integer >= 5 (medians of at least 5 runs)');
  if (a.warmup !== null && !(Number.isInteger(a.warmup) && a.warmup >= 1)) throw new Error('--warmup must be an integer >= 1');
  return a;
}

/** Run one row in a child process; resolves to its result object. */
function runRow(id, file, ctx, opts) {
  return new Promise((resolve) => {
    const ctxFile = path.join(ctx.scratch, `${id}.ctx.json`);
    const outFile = path.join(ctx.scratch, `${id}.out.json`);
    fs.writeFileSync(ctxFile, JSON.stringify({ ...ctx, rowScratch: path.join(ctx.scratch, id) }));
    fs.mkdirSync(path.join(ctx.scratch, id), { recursive: true });
    const flags = ['--expose-gc'];
    if (opts.prof) flags.push('--cpu-prof', `--cpu-prof-dir=${opts.resultsDir}`, `--cpu-prof-name=${id}.cpuprofile`);
    const child = spawn(process.execPath, [...flags, path.join(__dirname, 'lib', 'child.js'), path.join(__dirname, 'rows', file), ctxFile, outFile],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSMM_DEBUG: '' } });
    const forward = (stream) => {
      let buf = '';
      stream.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const ln = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          // tfjs prints a banner suggesting tfjs-node; it is noise here
          if (/^=+$|looks like you are running TensorFlow\.js in Node\.js/.test(ln)) continue;
          process.stderr.write(`${ln}\n`);
        }
      });
    };
    forward(child.stdout);
    forward(child.stderr);
    // a row that hangs is killed (this child only, by its pid) and reported as an error
    const limitMs = (id === 'P7' ? 120 : ctx.quick ? 5 : 20) * 60 * 1000;
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let res;
      try {
        res = JSON.parse(fs.readFileSync(outFile, 'utf8'));
      } catch {
        res = { id, title: id, lines: [], error: `row process exited with ${signal ?? code} before writing a result` +
          `${signal === 'SIGKILL' ? ` (killed after the ${limitMs / 60000}-minute limit, or by the OOM killer)` : ''}` };
      }
      resolve(res);
    });
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    return;
  }
  const resultsDir = path.join(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  for (const d of [args.dir, args.shm]) if (!fs.existsSync(d)) throw new Error(`directory ${d} does not exist`);
  const scratch = fs.mkdtempSync(path.join(args.dir, 'tsmm-bench-'));
  const shmScratch = fs.mkdtempSync(path.join(args.shm, 'tsmm-bench-'));
  const started = new Date();
  const machine = machineInfo({ disk: scratch, shm: shmScratch });
  if (machine.media.disk.fstype === 'tmpfs') process.stderr.write(`warning: --dir ${args.dir} is tmpfs; the "disk" rows will not touch a disk\n`);
  const runs = args.runs ?? (args.quick ? 5 : 7);
  const warmup = args.warmup ?? (args.quick ? 1 : 2);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const modeLine = `${args.quick ? 'quick' : 'full'} run, ${runs} runs + ${warmup} warm-up per side, ${started.toISOString()}; ${machine.cpu.model}, ${machine.cpu.cores} cores, node ${machine.node}`;
  process.stderr.write(`tsmm bench: ${modeLine}\nmachine: ${machineLine(machine)}\n`);

  const ctx = {
    quick: args.quick, huge: args.huge, runs, warmup, hugeGiB: args.hugeGiB,
    dirs: { disk: scratch, shm: shmScratch }, scratch, repo: path.join(__dirname, '..'), memTotal: os.totalmem(),
  };
  const selected = ROWS.filter(([id]) => args.rows === null || args.rows.includes(id));
  const rows = [];
  try {
    for (const [id, file] of selected) {
      if (id === 'P7' && !args.huge) {
        rows.push({ id, title: 'array of 1.5× RAM, filled and summed', lines: [], unavailable: 'needs --huge' });
        continue;
      }
      process.stderr.write(`${id} ...\n`);
      const t0 = Date.now();
      const res = await runRow(id, file, ctx, { prof: args.prof, resultsDir });
      process.stderr.write(`${id} done in ${((Date.now() - t0) / 1000).toFixed(1)} s${res.error ? ` -- ERROR: ${res.error.split('\n')[0]}` : ''}${res.unavailable ? ` -- skipped: ${res.unavailable}` : ''}\n`);
      rows.push(res);
    }
  } finally {
    if (!args.keep) {
      fs.rmSync(scratch, { recursive: true, force: true });
      fs.rmSync(shmScratch, { recursive: true, force: true });
    }
  }
  const all = rows.flatMap((r) => r.lines ?? []);
  const results = {
    format: 'tsmm-bench/1',
    date: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    command,
    mode: args.quick ? 'quick' : 'full',
    modeLine,
    runs,
    warmup,
    machine,
    loadavgAtEnd: os.loadavg(),
    summary: {
      pass: all.filter((l) => l.pass === true).length,
      miss: all.filter((l) => l.pass === false).length,
      report: all.filter((l) => l.pass === null && !l.skipped).length,
      skippedOrFailedRows: rows.filter((r) => r.error || r.unavailable).map((r) => r.id),
    },
    rows,
  };
  const table = markdown(results);
  const header = `## tsmm bench — ${modeLine}\n\nMachine: ${machineLine(machine)}\n\nRerun: \`${command}\`\n`;
  process.stdout.write(`${header}\n${table}\n\n${results.summary.pass} pass, ${results.summary.miss} miss, ${results.summary.report} report-only` +
    ` (${results.seconds.toFixed(0)} s)\n`);
  if (args.write) {
    fs.writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify(results, null, 1) + '\n');
    fs.writeFileSync(path.join(resultsDir, 'latest.svg'), svg(results) + '\n');
    fs.writeFileSync(path.join(resultsDir, 'latest.md'), `${header}\n${table}\n`);
    process.stderr.write(`wrote bench/results/latest.json, latest.svg, latest.md${args.prof ? ' and <row>.cpuprofile' : ''}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
