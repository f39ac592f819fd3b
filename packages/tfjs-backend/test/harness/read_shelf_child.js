'use strict';
/**
 * Child process of 30.tensors.test.js: re-opens a shelf, reads the given names under a backend and prints
 * one JSON line: { name: { ...fingerprint, residence } | { error: message } }.
 * Usage: node read_shelf_child.js PMEM_PATH SHELF_NAME BACKEND NAME...
 */
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
const sb = require('@tsmm/tfjs-backend');
const { shelf } = require('@tsmm/core');
const { fingerprint } = require('./tensor_cases');

async function main() {
  const [pmemPath, shelfName, backend, ...names] = process.argv.slice(2);
  if (backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`cannot set backend ${backend}`);
  const s = shelf(shelfName, { pmemPath });
  const out = {};
  for (const name of names) {
    let t;
    try {
      t = s[name];
    } catch (e) {
      out[name] = { error: e.message };
      continue;
    }
    const onShelf = sb.shelfBackend().data.has(t.dataId);
    out[name] = { ...fingerprint(t), residence: onShelf ? sb.shelfBackend().residenceOf(t.dataId).residence : backend };
    t.dispose();
  }
  s.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
