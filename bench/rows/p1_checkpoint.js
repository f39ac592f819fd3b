// P1 -- durable checkpoint of a LayersModel's float32 weights (64 MiB, and 256 MiB in a full run).
//   tsmm: `checkpoint(s, 'm')` of weights attached with `attachModel(s, 'm', model)` under the 'shelf' backend,
//         after every weight was assigned a new value (untimed), so that every byte is dirty, as after a training step;
//   peer: tfjs-node's own file:// handler, `await model.save('file://DIR')` under the stock 'cpu' backend, then fsync of
//         both files it wrote (model.json, weights.bin);
//   bound: the fastest way to make the same number of bytes durable on the same disk, measured in the same run by
//         bench/tools/bounds.c: min(msync of that many dirty mapped bytes, write+fdatasync of them);
//   safetensors-style baseline: fs.promises.writeFile of one buffer of that size + fsync (where serialization costs go).
// Targets: tsmm >= 2.5x faster than the peer, and <= 1.25x the bound.
// Run alone: npm run bench -- --rows P1 [--quick]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { shelf } = require('@tsmm/core');
const { interleave, since, timed, fmtBytes } = require('../lib/stats');
const { line } = require('../lib/row');
const { measureBounds, safetensorsBaseline } = require('../lib/bounds');
const T = require('../lib/tfjs');

module.exports = {
  id: 'P1',
  title: 'durable checkpoint of model weights',
  unavailable: () => T.missingApi(['attachModel', 'checkpoint']),
  async run(ctx) {
    const { tf, tl, tb, peer } = T.loadTf(ctx.log);
    const lines = [];
    const notes = [`peer: ${peer.source}`];
    const extra = { bounds: {}, safetensors: {} };
    const sizes = ctx.quick ? [[2048, 64]] : [[2048, 64], [4096, 256]];
    for (const [width, mib] of sizes) {
      const t0 = process.hrtime.bigint();
      await tf.setBackend('cpu');
      const peerModel = T.denseStack(tl, width, 4);
      const vals = T.weightValues(peerModel);
      const bytes = T.weightBytes(peerModel);
      await tf.setBackend('shelf');
      const model = T.denseStack(tl, width, 4);
      T.setWeightValues(tf, model, vals);
      const s = shelf(`p1-${mib}`, { sizeMb: Math.ceil((3 * bytes) / 2 ** 20) + 64, pmemPath: ctx.dirs.disk, forceNew: true });
      tb.attachModel(s, 'm', model, { optimizer: null });
      // two sets of new values per weight, alternated, so that each checkpoint finds every byte changed
      const alt = [0, 1].map((k) => model.weights.map((w, i) => tf.tensor(vals[i].values.map((x) => x + (k ? 1e-3 : -1e-3)), w.shape)));
      const peerDir = path.join(ctx.dirs.disk, `p1-file-${mib}`);
      ctx.log(`${fmtBytes(bytes)} model ready in ${(since(t0) / 1000).toFixed(1)} s`);

      const r = await interleave({
        tsmm: async (round) => {
          await tf.setBackend('shelf');
          const set = alt[(round + 100) % 2];
          model.weights.forEach((w, i) => w.write(set[i]));
          return timed(() => tb.checkpoint(s, 'm', { step: round + 100 }));
        },
        peer: async () => {
          await tf.setBackend('cpu');
          return timed(async () => {
            await peerModel.save(`file://${peerDir}`);
            await T.fsyncSaved(peerDir);
          });
        },
      }, { warmup: ctx.warmup, runs: ctx.runs });
      ctx.log(`${mib} MiB: checkpoint ${r.tsmm.median.toFixed(1)} ms, file:// + fsync ${r.peer.median.toFixed(1)} ms`);
      alt.flat().forEach((t) => t.dispose());
      s.close({ force: true });
      fs.rmSync(peerDir, { recursive: true, force: true });
      tf.disposeVariables();

      const b = measureBounds(ctx.dirs.disk, bytes, ctx.runs, ctx.warmup);
      const st = await safetensorsBaseline(ctx.dirs.disk, bytes, ctx.runs, ctx.warmup);
      extra.bounds[mib] = b;
      extra.safetensors[mib] = st;
      ctx.log(`${mib} MiB bounds: msync ${b.msync.median.toFixed(1)} ms, write+fdatasync ${b.writeSync.median.toFixed(1)} ms, ` +
        `map copy ${b.mapCopy.median.toFixed(1)} ms, memcpy ${b.memcpy.median.toFixed(1)} ms; safetensors-style ${st.median.toFixed(1)} ms`);

      const tsmm = { label: 'checkpoint()', ...r.tsmm };
      lines.push(line({
        id: 'P1', label: `checkpoint ${mib} MiB vs file://`, bytes, what: 'durable save of all weights',
        tsmm, peer: { label: 'tfjs-node file:// + fsync', ...r.peer },
        ratioDef: 'peer/tsmm', target: { op: '>=', value: 2.5, text: '≥ 2.5×' },
      }));
      const boundName = b.durable.method === 'msync' ? 'msync of dirty bytes' : 'write+fdatasync';
      lines.push(line({
        id: 'P1', label: `checkpoint ${mib} MiB vs bound`, bytes, what: 'fastest durable write of the same bytes',
        tsmm, peer: { label: `bound (${boundName})`, ...b[b.durable.method] },
        ratioDef: 'tsmm/bound', target: { op: '<=', value: 1.25, text: '≤ 1.25× bound' },
        note: `bounds at ${fmtBytes(bytes)}: msync of dirty mapped bytes ${b.msync.median.toFixed(1)} ms, write+fdatasync ${b.writeSync.median.toFixed(1)} ms` +
          `${b.directSync ? `, O_DIRECT write+fdatasync ${b.directSync.median.toFixed(1)} ms` : ''}, copy into a mapped file ${b.mapCopy.median.toFixed(1)} ms, ` +
          `memcpy ${b.memcpy.median.toFixed(1)} ms (${b.memcpyGiBs.toFixed(1)} GiB/s)`,
      }));
      lines.push(line({
        id: 'P1', label: `checkpoint ${mib} MiB vs safetensors-style`, bytes, what: 'fs.writeFile of one buffer + fsync',
        tsmm, peer: { label: 'writeFile+fsync', ...st }, ratioDef: 'peer/tsmm', target: null,
      }));
    }
    return { lines, notes, extra };
  },
};
