'use strict';
// Train an MNIST classifier whose weights and Adam state live on a shelf, checkpointing after every epoch.
// Kill it at any moment (kill -9, Ctrl-C, power cut) and run it again: it resumes from the last checkpoint.
//   node examples/mnist-resume/train.js [--epochs 5] [--fresh] [--dir DIR] [--json]
const path = require('node:path');
const os = require('node:os');
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const { attachModel, checkpoint } = require('@tsmm/tfjs-backend'); // registers the 'shelf' backend
const { shelf } = require('@tsmm/core');
const M = require('../demo/mnist');

const arg = (n, d) => { const i = process.argv.indexOf(n); return i > 0 ? process.argv[i + 1] : d; };
const EPOCHS = Number(arg('--epochs', 5));
const DIR = arg('--dir', process.env.TSMM_PMEM_PATH || path.join(os.tmpdir(), 'tsmm-mnist-resume'));
const JSON_OUT = process.argv.includes('--json');
const BATCH = 50;
M.quiet();
const log = (o, text) => process.stdout.write(JSON_OUT ? `${JSON.stringify(o)}\n` : text === undefined ? '' : `${text}\n`);

(async () => {
  await tf.setBackend('shelf');
  require('node:fs').mkdirSync(DIR, { recursive: true });
  const s = shelf('mnist', process.argv.includes('--fresh') ? { sizeMb: 32, pmemPath: DIR, forceNew: true } : { sizeMb: 32, pmemPath: DIR });
  const train = M.digits(0, 200);
  const test = M.digits(200, 250);
  const model = M.model(tf, tfl);
  // Re-homes every weight and the optimizer's state onto the shelf; loads them when a checkpoint exists.
  const { resumed, step } = attachModel(s, 'run', model);
  log({ start: true, resumed, step }, resumed ? `resuming at epoch ${step + 1} (the checkpoint of epoch ${step})` : `fresh start on ${path.join(DIR, 'mnist')}`);
  const batches = Math.ceil(train.n / BATCH);
  for (let epoch = step; epoch < EPOCHS; epoch++) {
    for (let b = 0; b < batches; b++) {
      const { x, y } = M.batch(tf, train, epoch, b, BATCH);
      await model.trainOnBatch(x, y); // updates land in shelf memory
      tf.dispose([x, y]);
      log({ epoch, batch: b, of: batches });
    }
    checkpoint(s, 'run', { step: epoch + 1 }); // durable, crash-atomic: all weights and optimizer slots together
    log({ checkpoint: epoch + 1 }, `epoch ${epoch + 1}/${EPOCHS}: checkpointed, test accuracy ${(100 * M.accuracy(tf, model, test)).toFixed(1)}%`);
  }
  log({ done: true, fingerprint: M.fingerprint(model), accuracy: M.accuracy(tf, model, test) },
    `done: weights sha256 ${M.fingerprint(model).slice(0, 16)}… (run with --fresh to start over)`);
  s.close({ force: true });
})().catch((e) => {
  process.stderr.write(`${(e && e.stack) || e}\n`);
  process.exit(1);
});
