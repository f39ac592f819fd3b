'use strict';
// A child process is killed with SIGKILL inside (and around) transaction bodies, 100 times. Every re-open must find x
// whole at one generation, matching the gen_<G> marker committed in the same batch, with no undo entries left.
const test = require('ava');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Pool } = require('@tsmm/native');
const { shelf, ndarray, internals } = require('@tsmm/core');
const { FIXTURE } = require('./helpers');

const KILLS = 100;
const N = 1 << 18; // 1 MiB of int32: a body takes a few milliseconds

function rng(seed) {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

/** Run one child; kill it when `when(line)` says so (after `delayMs`). Resolves with every stdout line it printed. */
function runAndKill(dir, name, mode, when, delayMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(FIXTURE, 'tx-child.js'), dir, name, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (!armed && out.split('\n').some(when)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => { // 'close': after the last stdout data, unlike 'exit'
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (${code}): ${err}`));
      else resolve(out.split('\n').filter(Boolean));
    });
  });
}

test(`${KILLS} SIGKILLs inside and around transaction bodies: each re-open rolls back to a whole generation`, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const name = 'kill';
  const seed = Date.now() >>> 0;
  t.log(`seed ${seed}`);
  const rand = rng(seed);
  {
    const s = shelf(name, { sizeMb: 16, pmemPath: dir, forceNew: true });
    s.x = ndarray([N], 'int32');
    s.gen_0 = 0;
    s.close();
  }
  let acked = 0;
  let inBody = 0;
  let kills = 0;
  for (let k = 0; k < KILLS; k++) {
    const mode = k % 2 === 0 ? 'mid' : 'loop';
    const lines = mode === 'mid'
      ? await runAndKill(dir, name, mode, (l) => l.startsWith('mid '), Math.floor(rand() * 5))
      : await runAndKill(dir, name, mode, (l) => l.startsWith('ready '), Math.floor(rand() * 60));
    kills++;
    for (const l of lines) if (l.startsWith('done ')) acked = Math.max(acked, Number(l.slice(5)));
    // Look before recovery: was the child inside a transaction?
    const pool = Pool.open(path.join(dir, name));
    const active = pool.has('.tx/active');
    pool.close();
    if (active) inBody++;
    if (mode === 'mid') t.true(active, `kill ${k}: a kill after "mid" lands inside the body`);

    const s = shelf(name, { pmemPath: dir }); // recovery runs here
    const x = s.x.data;
    const g = x[0];
    let whole = true;
    for (let i = 1; i < x.length; i++) if (x[i] !== g) { whole = false; break; }
    const gens = s.items.filter((n) => n.startsWith('gen_'));
    const ok = whole && g >= acked && g <= acked + 1 && gens.length === 1 && gens[0] === `gen_${g}` && s[gens[0]] === g &&
      internals(s).pool.names('.tx/').length === 0;
    if (!ok) {
      t.fail(`kill ${k} (${mode}, seed ${seed}): x[0]=${g} whole=${whole} acked=${acked} gens=${JSON.stringify(gens)} tx=${JSON.stringify(internals(s).pool.names('.tx/'))}`);
      s.close();
      return;
    }
    acked = g;
    s.close();
  }
  t.is(kills, KILLS);
  t.true(inBody >= KILLS / 2, `${inBody} kills landed inside a body`);
  t.true(acked > 0, 'transactions committed between kills');
  t.log(`${kills} kills, ${inBody} inside a transaction body, ${acked} transactions committed`);
});
