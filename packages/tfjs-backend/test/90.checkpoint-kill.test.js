'use strict';
// Kill test: a training child that checkpoints every few steps is SIGKILLed at random moments (>= 100 kills, during
// start-up and attach, training, checkpoint persists and commits). Every restart must resume from a whole checkpoint
// -- its full training state (weights, optimizer slots, iterations) equal, bit for bit, to the uninterrupted run's
// state at that step -- never from before the last acknowledged checkpoint, and every job must end on the
// uninterrupted run's final state. One shelf is reused for all jobs; children alternate between 'shelf' and 'cpu'.
// TSMM_TFJS_KILLS overrides the number of kills (default 100).
const test = require('ava');
const path = require('node:path');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const { shelf, internals } = require('@tsmm/core');
require('@tsmm/tfjs-backend'); // the codecs that read checkpoint states
const { tempDir } = require('./fixtures/50.helpers');

const TRAINER = path.join(__dirname, 'fixtures', '90.trainer.js');
const STEPS = 40;
const EVERY = 2;
const KILLS = Number(process.env.TSMM_TFJS_KILLS || 100);

/**
 * Start the trainer; `onEvent(ev, child)` sees every parsed line. Returns the child and a promise of its exit
 * code and signal.
 */
function startTrainer(dir, prefix, backend, onEvent) {
  const child = spawn(process.execPath, [TRAINER, dir, prefix, String(STEPS), String(EVERY), backend], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const rl = readline.createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    const [kind, a, b, c, d] = line.split(' ');
    if (kind === 'ready') onEvent({ kind, step: Number(a), fp: b, requireMs: Number(c), readyMs: Number(d) }, child);
    else if (kind === 'ckpt') onEvent({ kind, step: Number(a), fp: b }, child);
    else if (kind === 'done') onEvent({ kind, fp: a }, child);
  });
  const result = new Promise((resolve) => {
    // 'close' (not 'exit'): every line written before the kill has been read by then
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, result };
}

function runTrainer(dir, prefix, backend, onEvent) {
  return startTrainer(dir, prefix, backend, onEvent).result;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

test('SIGKILL at random moments: every restart resumes from a whole checkpoint; final state equals an unkilled run', async (t) => {
  // 1. the uninterrupted run: fingerprints of the state at start, at every checkpoint, at the end
  const t0 = performance.now();
  const refDir = tempDir(t);
  const ref = { ckpt: new Map(), start: null, done: null };
  const r0 = await runTrainer(refDir, 'ref', 'cpu', (ev) => {
    if (ev.kind === 'ready') ref.start = ev.fp;
    if (ev.kind === 'ckpt') ref.ckpt.set(ev.step, ev.fp);
    if (ev.kind === 'done') ref.done = ev.fp;
  });
  const refMs = performance.now() - t0;
  t.is(r0.code, 0, r0.stderr);
  t.is(ref.ckpt.size, STEPS / EVERY);
  t.truthy(ref.done);

  // 2. kill, restart, repeat. Two lanes run side by side (start-up dominates a run: this halves the wall time),
  //    each reusing one shelf for all its jobs.
  const stats = { kills: 0, killsBeforeReady: 0, runs: 0, jobs: 0, lostAcks: 0, requireMs: [], readyMs: [] };
  const problems = [];
  const check = (cond, msg) => { if (!cond && problems.length < 20) problems.push(msg); };
  const lanes = Math.max(1, Number(process.env.TSMM_TFJS_KILL_LANES || 2));

  async function lane(name, kills) {
    const dir = tempDir(t);
    let job = 0;
    let lastAcked = 0; // last checkpoint of the current job whose 'ckpt' line reached us
    let laneKills = 0;
    let runs = 0;
    while (laneKills < kills && problems.length < 20) {
      const backend = runs % 2 === 0 ? 'shelf' : 'cpu';
      const prefix = `job${job}`;
      const tag = `${name}/${prefix}`;
      const killEarly = Math.random() < 0.15;
      let timer = null;
      let done = false;
      let readySeen = false;
      const { child: proc, result } = startTrainer(dir, prefix, backend, (ev, child) => {
        if (ev.kind === 'ready') {
          readySeen = true;
          stats.requireMs.push(ev.requireMs);
          stats.readyMs.push(ev.readyMs);
          check(ev.step >= lastAcked, `${tag}: resumed at step ${ev.step}, before the acknowledged checkpoint ${lastAcked}`);
          check(ev.step <= Math.min(STEPS, lastAcked + EVERY), `${tag}: resumed at step ${ev.step}, later than any checkpoint taken after ${lastAcked}`);
          const want = ev.step === 0 ? ref.start : ref.ckpt.get(ev.step);
          check(ev.fp === want, `${tag}: state at resume (step ${ev.step}, ${backend}) is ${ev.fp}, the uninterrupted run had ${want}`);
          if (ev.step > lastAcked) stats.lostAcks++; // killed between a commit and its acknowledgement
          lastAcked = ev.step;
          if (!killEarly) timer = setTimeout(() => child.kill('SIGKILL'), Math.random() * 250);
        } else if (ev.kind === 'ckpt') {
          check(ev.fp === ref.ckpt.get(ev.step), `${tag}: state at checkpoint ${ev.step} differs from the uninterrupted run`);
          lastAcked = ev.step;
        } else if (ev.kind === 'done') {
          check(ev.fp === ref.done, `${tag}: final state ${ev.fp} differs from the uninterrupted run's ${ref.done}`);
          done = true;
        }
      });
      if (killEarly) {
        // during start-up: module loading, shelf open and recovery, attach (and its first commit for a new job)
        timer = setTimeout(() => proc.kill('SIGKILL'), Math.random() * 450);
      }
      const res = await result;
      if (timer !== null) clearTimeout(timer);
      runs++;
      stats.runs++;
      if (res.signal === 'SIGKILL') {
        laneKills++;
        stats.kills++;
        if (!readySeen) stats.killsBeforeReady++;
      } else {
        check(res.code === 0, `${tag}: trainer failed (${res.code}): ${res.stderr}`);
      }
      if (done) {
        stats.jobs++;
        job++;
        lastAcked = 0;
      }
    }
    // 3. let the last job finish without kills
    let finalFp = null;
    const res = await runTrainer(dir, `job${job}`, 'shelf', (ev) => {
      if (ev.kind === 'ready') {
        const want = ev.step === 0 ? ref.start : ref.ckpt.get(ev.step);
        check(ev.fp === want, `${name}/job${job}: state at the final resume differs from the uninterrupted run`);
      }
      if (ev.kind === 'done') finalFp = ev.fp;
    });
    check(res.code === 0, `${name}/job${job}: final run failed: ${res.stderr}`);
    check(finalFp === ref.done, `${name}/job${job}: final state ${finalFp}, the uninterrupted run's ${ref.done}`);
    stats.jobs++;

    // 4. the shelf after all this: every job whole, no leaked space
    const s = shelf('kill', { pmemPath: dir });
    try {
      check(internals(s).pool.stats().reserved === 0, `${name}: uncommitted allocations survived a re-open`);
      for (let j = 0; j <= job; j++) {
        check(s[`job${j}/state`].step === STEPS, `${name}/job${j}: last checkpoint is not at step ${STEPS}`);
        // 8 model weights + Adam: m and v for 6 trainable weights, accBeta1, accBeta2
        // + 3 slabs: the model's weights, accBeta1/2 (made at attach), the slots (made at the first step)
        const n = internals(s).pool.names(`job${j}/`).length;
        const slabs = internals(s).pool.names(`job${j}/slab/`).length;
        check(slabs === 3 && n === 1 + 8 + 14 + slabs, `${name}/job${j}: ${n} entries, ${slabs} slabs`);
      }
    } finally {
      s.close({ force: true });
    }
  }

  const per = Math.ceil(KILLS / lanes);
  await Promise.all(Array.from({ length: lanes }, (_, i) => lane(`lane${i}`, per)));
  t.deepEqual(problems, []);
  t.true(stats.kills >= KILLS);
  t.log(`${((performance.now() - t0) / 1000).toFixed(1)} s in all, the uninterrupted run ${(refMs / 1000).toFixed(1)} s`);
  t.log(`${stats.kills} kills (${stats.killsBeforeReady} during start-up/attach) over ${stats.runs} runs and ${stats.jobs} jobs; ` +
    `${stats.lostAcks} restarts found a checkpoint committed but not yet acknowledged`);
  t.log(`child start-up: require tfjs + tsmm median ${median(stats.requireMs).toFixed(0)} ms, ready (attached, resumed) median ${median(stats.readyMs).toFixed(0)} ms after process start`);
});
