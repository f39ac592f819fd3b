'use strict';
// One training process of the demo: node train-worker.js <pmemPath> <shelfName> <epochs>
// Trains the MNIST MLP under the 'shelf' backend with its weights and Adam state attached to the shelf, checkpointing
// after every epoch. If the shelf already holds a checkpoint, it resumes from it. Prints one JSON line per batch
// ({epoch, batch}) so the parent can kill it mid-epoch, and a final line {done, fingerprint, accuracy, resumedAt}.
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const { attachModel, checkpoint } = require('@tsmm/tfjs-backend');
const { shelf } = require('@tsmm/core');
const M = require('./mnist');

M.quiet();
const [pmemPath, name, epochsArg] = process.argv.slice(2);
const EPOCHS = Number(epochsArg);
const BATCH = 50;

(async () => {
  await tf.setBackend('shelf');
  const train = M.digits(0, 200);
  const test = M.digits(200, 250);
  const s = shelf(name, { sizeMb: 32, pmemPath });
  const model = M.model(tf, tfl);
  const { resumed, step } = attachModel(s, 'mnist', model); // loads weights + Adam state when a checkpoint exists
  const send = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  send({ start: true, resumed, step });
  const batches = Math.ceil(train.n / BATCH);
  for (let epoch = step; epoch < EPOCHS; epoch++) {
    for (let b = 0; b < batches; b++) {
      const { x, y } = M.batch(tf, train, epoch, b, BATCH);
      await model.trainOnBatch(x, y);
      tf.dispose([x, y]);
      send({ epoch, batch: b, of: batches });
    }
    checkpoint(s, 'mnist', { step: epoch + 1 }); // durable and crash-atomic: weights and optimizer together
    send({ checkpoint: epoch + 1 });
  }
  send({ done: true, resumedAt: resumed ? step : null, fingerprint: M.fingerprint(model), accuracy: M.accuracy(tf, model, test) });
  s.close({ force: true });
})().catch((e) => {
  process.stderr.write(`${(e && e.stack) || e}\n`);
  process.exit(1);
});
