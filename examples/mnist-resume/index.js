'use strict';
// Training that survives kill -9: run train.js, SIGKILL it at random moments, restart it each time, and check that the
// final weights are bit-identical to those of a run that was never interrupted.
//   node examples/mnist-resume/index.js [--kills 3] [--epochs 5]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const arg = (n, d) => { const i = process.argv.indexOf(n); return i > 0 ? process.argv[i + 1] : d; };
const KILLS = Number(arg('--kills', 3));
const EPOCHS = Number(arg('--epochs', 5));
const TRAIN = path.join(__dirname, 'train.js');

/** Run train.js; kill it after `killAfter` batches (or never). Resolves with its JSON lines and how it ended. */
function train(dir, fresh, killAfter) {
  return new Promise((resolve, reject) => {
    const args = [TRAIN, '--dir', dir, '--epochs', String(EPOCHS), '--json', ...(fresh ? ['--fresh'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = [];
    let buf = '';
    let batches = 0;
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        lines.push(l);
        if (l.batch !== undefined && ++batches === killAfter) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 || signal === 'SIGKILL' ? resolve({ lines, signal }) : reject(new Error(`train.js exited ${code}`))));
  });
}

(async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-mnist-resume-'));
  console.log(`reference: ${EPOCHS} epochs, never interrupted ...`);
  const ref = (await train(path.join(base, 'ref'), true, 0)).lines.find((l) => l.done);
  console.log(`  weights sha256 ${ref.fingerprint.slice(0, 16)}…, test accuracy ${(100 * ref.accuracy).toFixed(1)}%`);
  const dir = path.join(base, 'crashy');
  let fresh = true;
  for (let k = 0; k < KILLS; k++) {
    const after = 20 + Math.floor(Math.random() * 50); // somewhere in the next one or two epochs
    const r = await train(dir, fresh, after);
    fresh = false;
    const start = r.lines.find((l) => l.start);
    const last = r.lines.filter((l) => l.batch !== undefined).pop();
    console.log(`run ${k + 1}: ${start.resumed ? `resumed at epoch ${start.step + 1}` : k === 0 ? 'fresh start' : 'no checkpoint yet, starts over'}, ` +
      `${r.signal ? `killed with ${r.signal} in epoch ${last.epoch + 1} (batch ${last.batch + 1}/${last.of})` : 'finished before the kill'}`);
  }
  const fin = await train(dir, fresh, 0);
  const done = fin.lines.find((l) => l.done);
  const start = fin.lines.find((l) => l.start);
  console.log(`run ${KILLS + 1}: ${start.resumed ? `resumed at epoch ${start.step + 1}` : 'fresh start'}, finished`);
  const same = done.fingerprint === ref.fingerprint;
  console.log(`  weights sha256 ${done.fingerprint.slice(0, 16)}… — ${same ? 'identical to the uninterrupted run, bit for bit' : 'DIFFERENT from the uninterrupted run'}`);
  fs.rmSync(base, { recursive: true, force: true });
  if (!same) process.exitCode = 1;
})().catch((e) => {
  console.error(e.message);
  process.exitCode = 1;
});
