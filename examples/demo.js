'use strict';
// `npm run demo`: what tsmm does, in under two minutes, with no persistent memory and no network.
//   1. an image on a shelf, filtered in place; a second run re-opens it instead of recomputing it
//   2. tfjs training with weights on a shelf, a crash (SIGKILL) mid-epoch, a resume equal to an uninterrupted run
//   3. checkpoint and restore time: shelf vs the file:// format on the same model
// Options: --fresh (start from an empty shelf), --only=image|train|io.
const path = require('node:path');

const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const only = (args.find((a) => a.startsWith('--only=')) || '').slice(7);
const outDir = path.join(__dirname, 'out');

async function main() {
  const t0 = Date.now();
  const lines = [];
  if (!only || only === 'image') {
    console.log('1. An image on a shelf (PyMM\'s demo)');
    lines.push(require('./demo/image').run({ outDir, fresh }));
  }
  if (!only || only === 'train') {
    console.log('\n2. Training survives a crash: tfjs weights on a shelf, SIGKILL mid-epoch, resume');
    lines.push(await require('./demo/train').run({ fresh }));
  }
  if (!only || only === 'io') {
    console.log('\n3. Checkpoint and restore: shelf vs file://');
    lines.push(await require('./demo/io').run({}));
  }
  const where = path.relative(process.cwd(), path.join(require('@tsmm/core').defaultPmemPath(), 'demo')) || 'demo';
  console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s. Look inside: npx tsmm ls ${where}   (npx tsmm --help for more)`);
}

main().catch((e) => {
  console.error(process.env.TSMM_DEBUG ? e : `demo failed: ${e.message}`);
  process.exitCode = 1;
});
