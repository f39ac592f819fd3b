// P1b -- the same save, not made durable by the peer: `model.save('shelf://…')` vs tfjs-node's `model.save('file://…')`
// (page cache only, no fsync). Same model object, same backend ('cpu'), only the URL differs. Report only.
// Note that shelf:// is durable anyway (its commit persists the weights and the index before it returns), so the tsmm
// side does strictly more work than the peer here.
// Run alone: npm run bench -- --rows P1b [--quick]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { interleave, since, fmtBytes } = require('../lib/stats');
const { line } = require('../lib/row');
const T = require('../lib/tfjs');

module.exports = {
  id: 'P1b',
  title: 'save, peer not durable',
  unavailable: () => T.missingApi(['shelfIO'], { router: true }),
  async run(ctx) {
    const { tf, tl, tb, peer } = T.loadTf(ctx.log);
    const lines = [];
    const sizes = ctx.quick ? [[2048, 64]] : [[2048, 64], [4096, 256]];
    for (const [width, mib] of sizes) {
      const t0 = process.hrtime.bigint();
      await tf.setBackend('cpu');
      const model = T.denseStack(tl, width, 4);
      const bytes = T.weightBytes(model);
      const shelfUrl = `shelf://${ctx.dirs.disk}/p1b-${mib}/model`;
      const fileDir = path.join(ctx.dirs.disk, `p1b-file-${mib}`);
      ctx.log(`${fmtBytes(bytes)} model ready in ${(since(t0) / 1000).toFixed(1)} s`);
      const r = await interleave({
        tsmm: async () => { await model.save(shelfUrl); },
        peer: async () => { await model.save(`file://${fileDir}`); },
      }, { warmup: ctx.warmup, runs: ctx.runs });
      ctx.log(`${mib} MiB: shelf:// ${r.tsmm.median.toFixed(1)} ms, file:// ${r.peer.median.toFixed(1)} ms`);
      lines.push(line({
        id: 'P1b', label: `save ${mib} MiB, shelf:// vs file://`, bytes, what: 'model.save(url), same model, backend cpu',
        tsmm: { label: "save('shelf://')", ...r.tsmm }, peer: { label: "tfjs-node save('file://'), no fsync", ...r.peer },
        ratioDef: 'peer/tsmm', target: null,
      }));
      tb.closeShelfUrls?.({ force: true });
      fs.rmSync(fileDir, { recursive: true, force: true });
      tf.disposeVariables();
    }
    return { lines, notes: [`peer: ${peer.source}`, 'shelf:// commits durably (extents persisted, index fdatasync), file:// leaves the bytes in the page cache'] };
  },
};
