'use strict';
// Run a TypeScript example with one command, using the repo's own `typescript` (no tsx/ts-node needed):
//   node examples/ts-run.js examples/basic-shelf/index.ts
// Each .ts file is transpiled in memory to CommonJS (types are erased, not checked — as tsx does); type-check the
// examples with `npx tsc -p examples`.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
  });
  module._compile(out.outputText, filename);
};

const file = process.argv[2];
if (!file) {
  console.error('usage: node examples/ts-run.js <file.ts> [args...]');
  process.exit(2);
}
process.argv.splice(1, 1); // the example sees itself as argv[1]
require(path.resolve(file));
