'use strict';
// THE KILL TEST: a child commits random batches of checksummed values and acknowledges each commit; we SIGKILL
// it at random moments, re-open and verify that every acknowledged commit is present and intact and that
// nothing else is half-visible (fixtures/kill-loop.js has the details). `npm run soak -- --kills N` runs more.
//
// Kill counts: TSMM_KILLS (default 220) split over three pools running side by side: two pair-layout pools
// and one single-layout pool with a tiny log (so that kills land in half switches). The seed is printed;
// rerun one with TSMM_KILL_SEED=<seed>. On failure the pool is kept and its path is in the message.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runKillLoop } = require('./fixtures/kill-loop');

const TOTAL = Number(process.env.TSMM_KILLS || 220);
const BASE_SEED = process.env.TSMM_KILL_SEED ? Number(process.env.TSMM_KILL_SEED) : (Date.now() ^ (process.pid << 10)) >>> 0;

const runs = [
  { title: 'pair layout, pool A', layout: 'pair', kills: Math.ceil(TOTAL * 0.375), seed: BASE_SEED },
  { title: 'pair layout, pool B', layout: 'pair', kills: Math.ceil(TOTAL * 0.375), seed: (BASE_SEED + 1) >>> 0 },
  { title: 'single layout (16 KiB log halves)', layout: 'single', kills: Math.ceil(TOTAL * 0.25), seed: (BASE_SEED + 2) >>> 0 },
];

for (const r of runs) {
  test(`kill test: ${r.kills} SIGKILLs, ${r.title}`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
    let ok = false;
    t.teardown(() => {
      if (ok) fs.rmSync(dir, { recursive: true, force: true });
    });
    t.log(`seed ${r.seed} (rerun: TSMM_KILL_SEED=${r.seed})`);
    let summary;
    try {
      summary = await runKillLoop({ dir, layout: r.layout, kills: r.kills, seed: r.seed });
    } catch (err) {
      t.fail(err.message);
      return;
    }
    ok = true;
    t.log(
      `${summary.kills} kills (${summary.killsAfterAck} after acknowledged commits, ${summary.earlyKills} aimed at open/recovery), ` +
        `${summary.acked} acknowledged batches, in-flight batch applied ${summary.inFlightApplied} / dropped ${summary.inFlightDropped}, ` +
        `up to ${summary.maxEntries} entries, final seq ${summary.seq}, ${(summary.ms / 1000).toFixed(1)} s`,
    );
    t.is(summary.kills, r.kills);
    t.true(summary.acked >= summary.killsAfterAck, 'children committed between kills');
  });
}
