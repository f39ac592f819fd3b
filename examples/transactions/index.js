'use strict';
// Transactions: several variables change together or not at all — on an exception, and across a crash (SIGKILL).
// Run: node examples/transactions/index.js
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { shelf } = require('@tsmm/core');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-tx-'));
const total = (s) => s.checking.reduce((a, b) => a + b, 0) + s.savings.reduce((a, b) => a + b, 0);
const show = (s, what) => console.log(`${what.padEnd(50)} checking ${Array.from(s.checking)}  savings ${Array.from(s.savings)}  total ${total(s)}`);

// Two accounts arrays; every transfer moves money from one to the other, so the total must never change.
let s = shelf('bank', { sizeMb: 8, pmemPath: dir, forceNew: true });
s.checking = new Float64Array([100, 200, 300]);
s.savings = new Float64Array([1000, 1000, 1000]);
show(s, 'start');

// 1. A transfer that completes: both arrays change, durably, as one.
s.tx(['checking', 'savings'], () => {
  s.checking[0] -= 50;
  s.savings[0] += 50;
  s.log = 'moved 50 from checking[0] to savings[0]'; // puts inside the body commit with the transaction
});
show(s, '1. s.tx(...) completed');

// 2. A transfer that throws half-way: the arrays are restored from the undo copies, the put is dropped.
try {
  s.tx(['checking', 'savings'], () => {
    s.checking[1] -= 500;
    s.replace('log', 'this never happened');
    throw new Error('insufficient funds');
  });
} catch (e) {
  show(s, `2. body threw "${e.message}": rolled back`);
  console.log(`   log is still: ${JSON.stringify(s.log)}`);
}

// 3. A process killed inside the transaction (no exception, no cleanup): the next open rolls it back.
s.close();
const child = spawnSync(process.execPath, ['-e', `
  const { shelf } = require(${JSON.stringify(require.resolve('@tsmm/core'))});
  const s = shelf('bank', { pmemPath: ${JSON.stringify(dir)} });
  s.txBegin(['checking', 'savings']);
  s.checking[2] -= 300;      // money leaves checking ...
  s.persist();                    // ... and is even flushed to the medium
  process.stdout.write('checking[2] = ' + s.checking[2] + ' on the shelf; killing myself before savings[2] changes');
  process.kill(process.pid, 'SIGKILL'); // ... and the process dies before it reaches savings
`], { encoding: 'utf8' });
console.log(`3. child: ${child.stdout} -> ${child.signal}`);
s = shelf('bank', { pmemPath: dir });
show(s, '   re-opened: the interrupted transfer rolled back');

// 4. The explicit form: txBegin / txEnd / txAbort.
s.txBegin(['checking', 'savings']);
s.checking[2] -= 100;
s.savings[2] += 100;
s.txEnd();
show(s, '4. txBegin ... txEnd');
s.close();
fs.rmSync(dir, { recursive: true, force: true });
