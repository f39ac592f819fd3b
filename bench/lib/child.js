// bench/lib/child.js -- runs one row module in its own process (fresh heap, fresh tfjs state) and writes its result.
// Usage (run.js does this): node bench/lib/child.js ROW_FILE CTX_JSON OUT_JSON
'use strict';
const fs = require('node:fs');

async function main() {
  const [rowFile, ctxFile, outFile] = process.argv.slice(2);
  const ctx = JSON.parse(fs.readFileSync(ctxFile, 'utf8'));
  const row = require(rowFile);
  ctx.log = (msg) => process.stderr.write(`  [${row.id}] ${msg}\n`);
  const t0 = Date.now();
  let result;
  try {
    const why = row.unavailable ? await row.unavailable(ctx) : null;
    if (why) result = { id: row.id, title: row.title, unavailable: why, lines: [] };
    else result = { id: row.id, title: row.title, ...(await row.run(ctx)) };
  } catch (e) {
    result = { id: row.id, title: row.title, error: e && e.stack ? e.stack : String(e), lines: [] };
  }
  result.seconds = (Date.now() - t0) / 1000;
  fs.writeFileSync(outFile, JSON.stringify(result));
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
