// P2 -- restore a saved LayersModel to a model ready to predict.
//   tsmm: `await tf.loadLayersModel('shelf://…')` under the 'shelf' backend (weights stay in shelf memory: zero copy);
//   peer: `await tf.loadLayersModel('file://…/model.json')` with tfjs-node's own file:// handler, under 'cpu'.
// Lines: the load alone (target: tsmm >= 20x faster), and load + the first predict of one sample, read back with
// dataSync (target: >= 2x) -- a mapped model pays its page faults on first use, so this line keeps the first one honest.
// Page cache warm on both sides (both were just saved). The loaded models' predictions are checked equal.
// Run alone: npm run bench -- --rows P2 [--quick]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { interleave, since, timed, fmtBytes } = require('../lib/stats');
const { line } = require('../lib/row');
const T = require('../lib/tfjs');

module.exports = {
  id: 'P2',
  title: 'restore a model ready to predict',
  unavailable: () => T.missingApi(['shelfIO'], { router: true }),
  async run(ctx) {
    const { tf, tl, tb, peer } = T.loadTf(ctx.log);
    const lines = [];
    const extra = {};
    const sizes = ctx.quick ? [[2048, 64]] : [[2048, 64], [4096, 256]];
    for (const [width, mib] of sizes) {
      const t0 = process.hrtime.bigint();
      await tf.setBackend('cpu');
      const model = T.denseStack(tl, width, 4);
      const bytes = T.weightBytes(model);
      const shelfUrl = `shelf://${ctx.dirs.disk}/p2-${mib}/model`;
      const fileDir = path.join(ctx.dirs.disk, `p2-file-${mib}`);
      await model.save(shelfUrl);
      await model.save(`file://${fileDir}`);
      const xv = new Float32Array(width).map((_, i) => Math.sin(i));
      const ref = tf.tidy(() => model.predict(tf.tensor2d(xv, [1, width])).dataSync().slice());
      tf.disposeVariables();
      ctx.log(`${fmtBytes(bytes)} model saved both ways in ${(since(t0) / 1000).toFixed(1)} s`);

      let last = { tsmm: null, peer: null };
      const load = {
        tsmm: async () => {
          await tf.setBackend('shelf');
          return timed(async () => { last.tsmm = await tl.loadLayersModel(shelfUrl); });
        },
        peer: async () => {
          await tf.setBackend('cpu');
          return timed(async () => { last.peer = await tl.loadLayersModel(`file://${path.join(fileDir, 'model.json')}`); });
        },
      };
      const outputs = { tsmm: null, peer: null };
      const loadPredict = (side, backend, url) => async () => {
        await tf.setBackend(backend);
        let m = null;
        let y = null;
        const r = await timed(async () => {
          m = await tl.loadLayersModel(url);
          y = tf.tidy(() => m.predict(tf.tensor2d(xv, [1, width])).dataSync());
        });
        outputs[side] = y.slice();
        m.dispose();
        return r;
      };
      const dispose = async () => {
        for (const k of ['tsmm', 'peer']) {
          if (last[k]) {
            await tf.setBackend(k === 'tsmm' ? 'shelf' : 'cpu');
            last[k].dispose();
            last[k] = null;
          }
        }
      };
      const r1 = await interleave(load, { warmup: ctx.warmup, runs: ctx.runs, beforeRound: dispose });
      await dispose();
      const r2 = await interleave({
        tsmm: loadPredict('tsmm', 'shelf', shelfUrl),
        peer: loadPredict('peer', 'cpu', `file://${path.join(fileDir, 'model.json')}`),
      }, { warmup: ctx.warmup, runs: ctx.runs });
      const diff = Math.max(...ref.map((v, i) => Math.max(Math.abs(v - outputs.tsmm[i]), Math.abs(v - outputs.peer[i]))));
      if (!(diff === 0)) throw new Error(`P2: predictions of the restored models differ from the saved model's (max |diff| ${diff})`);
      ctx.log(`${mib} MiB: load shelf:// ${r1.tsmm.median.toFixed(2)} ms, file:// ${r1.peer.median.toFixed(1)} ms; ` +
        `+ first predict ${r2.tsmm.median.toFixed(1)} vs ${r2.peer.median.toFixed(1)} ms`);
      lines.push(line({
        id: 'P2', label: `load ${mib} MiB`, bytes, what: 'loadLayersModel(url): model ready',
        tsmm: { label: "load('shelf://'), shelf backend", ...r1.tsmm }, peer: { label: "tfjs-node load('file://'), cpu", ...r1.peer },
        ratioDef: 'peer/tsmm', target: { op: '>=', value: 20, text: '≥ 20×' },
      }));
      lines.push(line({
        id: 'P2', label: `load + first predict ${mib} MiB`, bytes, what: 'load, then predict one sample and read it',
        tsmm: { label: 'shelf://', ...r2.tsmm }, peer: { label: 'file://', ...r2.peer },
        ratioDef: 'peer/tsmm', target: { op: '>=', value: 2, text: '≥ 2×' },
      }));
      extra[mib] = { load: r1, loadPredict: r2 };
      tb.closeShelfUrls?.({ force: true });
      fs.rmSync(fileDir, { recursive: true, force: true });
    }
    return { lines, notes: [`peer: ${peer.source}`, 'predictions of both restored models equal the saved model\'s, bit for bit'], extra };
  },
};
