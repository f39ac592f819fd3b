// P3 -- one training step of a dense net (784-256-256-10, batch 256, adam, softmax cross-entropy):
//   tsmm: under the 'shelf' backend, every weight and every optimizer slot attached to a shelf on disk
//         (`attachModel(s, 'm', model)`): each step's assigns land in shelf memory;
//   peer: the same model, same initial weights and data, under the stock 'cpu' backend.
// Target: the shelf step takes <= 1.05x the cpu step. One run = K steps of `model.trainOnBatch(x, y)`; figure per step.
// After the runs both models have taken the same steps from the same start: their weights are compared (reported).
// Run alone: npm run bench -- --rows P3 [--quick]
'use strict';
const { shelf } = require('@tsmm/core');
const { interleave, timed, perOp } = require('../lib/stats');
const { line } = require('../lib/row');
const T = require('../lib/tfjs');

function build(tf, tl) {
  const m = tl.sequential();
  const init = (seed) => tl.initializers.glorotUniform({ seed });
  m.add(tl.layers.dense({ units: 256, inputShape: [784], activation: 'relu', kernelInitializer: init(1) }));
  m.add(tl.layers.dense({ units: 256, activation: 'relu', kernelInitializer: init(2) }));
  m.add(tl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return m;
}

module.exports = {
  id: 'P3',
  title: 'one training step, weights on a shelf',
  unavailable: () => T.missingApi(['attachModel']),
  async run(ctx) {
    const { tf, tl, tb } = T.loadTf(ctx.log);
    const B = 256;
    const K = ctx.quick ? 1 : 3;
    // data: deterministic, same on both sides
    const xv = new Float32Array(B * 784).map((_, i) => ((i * 2654435761) % 1000) / 1000);
    const yv = new Float32Array(B * 10);
    for (let b = 0; b < B; b++) yv[b * 10 + (b % 10)] = 1;

    await tf.setBackend('cpu');
    const cpuModel = build(tf, tl);
    const init = T.weightValues(cpuModel);
    const cx = tf.tensor2d(xv, [B, 784]);
    const cy = tf.tensor2d(yv, [B, 10]);

    await tf.setBackend('shelf');
    const shelfModel = build(tf, tl);
    T.setWeightValues(tf, shelfModel, init);
    const s = shelf('p3', { sizeMb: 256, pmemPath: ctx.dirs.disk, forceNew: true });
    tb.attachModel(s, 'm', shelfModel);
    const sx = tf.tensor2d(xv, [B, 784]);
    const sy = tf.tensor2d(yv, [B, 10]);
    const bytes = T.weightBytes(shelfModel);

    const steps = async (model, x, y) => {
      for (let k = 0; k < K; k++) await model.trainOnBatch(x, y);
    };
    const r = await interleave({
      tsmm: async () => {
        await tf.setBackend('shelf');
        return timed(() => steps(shelfModel, sx, sy));
      },
      peer: async () => {
        await tf.setBackend('cpu');
        return timed(() => steps(cpuModel, cx, cy));
      },
    }, { warmup: ctx.warmup, runs: ctx.runs });
    const per = (x) => perOp(x, K);

    await tf.setBackend('cpu');
    const wc = T.weightValues(cpuModel);
    await tf.setBackend('shelf');
    const ws = T.weightValues(shelfModel);
    const diff = T.maxAbsDiff(wc, ws);
    const attached = s.stats();
    ctx.log(`step: shelf ${per(r.tsmm).median.toFixed(1)} ms, cpu ${per(r.peer).median.toFixed(1)} ms; weights max |diff| ${diff}`);
    s.close({ force: true });
    return {
      lines: [line({
        id: 'P3', label: 'train step, dense 784-256-256-10, batch 256, adam', per: 'per step', bytes,
        what: 'model.trainOnBatch', tsmm: { label: "'shelf', attached", ...per(r.tsmm) }, peer: { label: "'cpu'", ...per(r.peer) },
        ratioDef: 'tsmm/peer', target: { op: '<=', value: 1.05, text: '≤ 1.05×' },
        note: `after ${(ctx.warmup + ctx.runs) * K} steps on each side the weights differ by max |diff| = ${diff} ` +
          `(${attached.entries} entries, ${(attached.used / 2 ** 20).toFixed(1)} MiB of the shelf in use: weights + adam slots, two buffers each)`,
      })],
      extra: { maxAbsDiff: diff, stepsPerRun: K },
    };
  },
};
