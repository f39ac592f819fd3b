'use strict';
// Demo part 2: training that survives a crash. Three processes train the same MNIST model under the 'shelf' backend:
//   A, uninterrupted, on shelf demo-train-ref;
//   B, on shelf demo-train, killed with SIGKILL in the middle of epoch KILL_EPOCH (a real crash: no cleanup runs);
//   C, on demo-train again: attachModel finds B's last checkpoint, resumes there and finishes.
// C's final weights must be bit-identical to A's.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Pool } = require('@tsmm/native');
const { defaultPmemPath } = require('@tsmm/core');
const { say, progress, ms } = require('./util');

const EPOCHS = 4;
const KILL_EPOCH = 2; // 0-based: killed during the third epoch, after checkpoints of epochs 1 and 2
const WORKER = path.join(__dirname, 'train-worker.js');

/** Run the worker; `onLine` sees each JSON line and may return 'kill'. Resolves with {lines, signal, code}. */
function worker(bars, dir, name, label, onLine = () => undefined) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, dir, name, String(EPOCHS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    let buf = '';
    let err = '';
    const b = bars.add(label, EPOCHS, 'epochs');
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.batch !== undefined) b.update(Math.round((line.epoch + (line.batch + 1) / line.of) * 100) / 100);
        if (onLine(line) === 'kill') child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => { // after the last stdout line, unlike 'exit'
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`${label} failed (exit ${code}): ${err.trim()}`));
      else resolve({ lines, signal, code });
    });
  });
}

async function run() {
  const dir = defaultPmemPath();
  for (const n of ['demo-train-ref', 'demo-train']) if (Pool.exists(path.join(dir, n))) Pool.destroy(path.join(dir, n));
  const t0 = process.hrtime.bigint();
  let bars = progress();
  // A and B run side by side (separate shelves, one core each)
  const [a, b] = await Promise.all([
    worker(bars, dir, 'demo-train-ref', 'A: uninterrupted'),
    worker(bars, dir, 'demo-train', 'B: will crash', (l) => (l.epoch === KILL_EPOCH && l.batch === Math.floor(l.of / 2) ? 'kill' : undefined)),
  ]);
  bars.stop();
  const ref = a.lines.find((l) => l.done);
  say(`A: ${EPOCHS} epochs on 2,000 MNIST digits (from the mnist package), 784-64-10 MLP, Adam, under 'shelf', ` +
    `weights on shelf demo-train-ref, checkpoint per epoch`);
  const last = b.lines[b.lines.length - 1];
  const ckpts = b.lines.filter((l) => l.checkpoint).map((l) => l.checkpoint);
  say(`B: the same training on shelf demo-train, killed with ${b.signal} in epoch ${last.epoch + 1} near batch ${last.batch + 1}/${last.of}, ` +
    `after the checkpoints of epochs ${ckpts.join(', ')}`);

  bars = progress();
  const c = await worker(bars, dir, 'demo-train', 'C: resuming');
  bars.stop();
  const res = c.lines.find((l) => l.done);
  say(`C: new process, attachModel() found the epoch-${res.resumedAt} checkpoint, resumed there and finished epochs ${res.resumedAt + 1}..${EPOCHS}`);
  const same = res.fingerprint === ref.fingerprint;
  say(`final weights, sha256: A ${ref.fingerprint.slice(0, 16)}…  C ${res.fingerprint.slice(0, 16)}…  ` +
    `${same ? 'IDENTICAL, bit for bit' : 'DIFFERENT'}; test accuracy ${(100 * res.accuracy).toFixed(1)}% (A: ${(100 * ref.accuracy).toFixed(1)}%)`);
  say(`(${ms(t0)} ms for the three runs)`);
  if (!same) throw new Error('the resumed run differs from the uninterrupted one');
  return `train: crash + resume = uninterrupted (${same})`;
}

module.exports = { run, EPOCHS };
