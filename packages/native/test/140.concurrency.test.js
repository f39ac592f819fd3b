'use strict';
// Concurrency (issue 7, "Concurrency"): one writer and several readers, in other processes and in worker_threads
// (each opens the pool itself -- an ArrayBuffer posted to a worker is copied, see the last test). Readers must only ever
// see whole batches, never go back in time, and read intact bytes whenever no newer batch arrived while they read
// (fixtures/140.conc-child.js explains the rule). A killed writer's lock is released and the next writer recovers.
const test = require('ava');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { Pool, tempDir, openPool, pattern, putBytes, dump, startHolder, FIXTURES, childReport } = require('./helpers');

const CHILD = path.join(FIXTURES, '140.conc-child.js');
const MS = 1500;

function run(args) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CHILD, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (code, signal) => resolve({ code, signal, out, err, lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)) }));
  });
}

async function writerAndReaders(t, layout) {
  const dir = tempDir(t);
  const p = path.join(dir, 'p');
  // created first: a reader polling for a pool that a writer is still creating may briefly hold the lock the creation
  // needs (the writer then gets ESHELF_LOCKED, by design)
  Pool.open(p, { layout, size: 4 << 20, ...(layout === 'single' ? { logSize: 64 * 1024 } : {}) }).close();
  const [w, ...rs] = await Promise.all([run(['writer', p, layout, MS]), run(['reader', p, layout, MS + 300]), run(['reader', p, layout, MS + 300])]);
  for (const r of [w, ...rs]) t.is(r.code, 0, `${r.signal || ''} ${r.err.slice(-2000)}`);
  const readers = rs.flatMap((r) => r.lines);
  t.true(w.lines[0].batches > 10, `writer committed ${w.lines[0] && w.lines[0].batches} batches`);
  for (const r of readers) {
    t.deepEqual(r.violations.slice(0, 5), []);
    t.true(r.judged > 0 && r.gens > 1, JSON.stringify(r));
  }
  t.log(`writer: ${w.lines[0].batches} batches; readers: ${readers.map((r) => `${r.snapshots} snapshots (${r.judged} checked byte for byte, ${r.raced} raced), ${r.gens} generations`).join('; ')}`);
}

test('pair: a writer and two reader processes -- readers see only whole batches and intact bytes', (t) => writerAndReaders(t, 'pair'));

// Known engine bug R7 (/work/coord/engine-bugs.md): a single-layout reader's refresh() can read the log half while the
// writer appends to it, see a batch not yet written followed by one already written, and throw ESHELF_CORRUPT
// ("damaged but later batches follow it") on a healthy pool.
test('single: a writer and two reader processes -- readers see only whole batches and intact bytes', (t) => writerAndReaders(t, 'single'));

test('pair: readers in worker_threads (each opening the pool itself) next to the writer', (t) => {
  const dir = tempDir(t);
  const r = spawnSync(process.execPath, [CHILD, 'threads', path.join(dir, 'p'), 'pair', MS, 2], { encoding: 'utf8', timeout: 60000 });
  t.is(r.status, 0, childReport(r));
  const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const readers = lines.filter((l) => l.role === 'thread-reader');
  t.is(readers.length, 2);
  for (const x of readers) {
    t.deepEqual(x.violations.slice(0, 5), []);
    t.true(x.judged > 0 && x.gens > 1, JSON.stringify(x));
  }
  t.log(`writer ${lines[0].batches} batches; thread readers: ${readers.map((x) => `${x.snapshots} snapshots, ${x.judged} checked`).join('; ')}`);
});

for (const layout of ['pair', 'single']) {
  test(`${layout}: a SIGKILLed writer releases its lock; the next writer opens at once and has every commit`, async (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, 'p');
    Pool.open(p, { layout, size: 1 << 20 }).close();
    const h = await startHolder(t, p, { layout });
    t.true(h.first.ready, JSON.stringify(h.first));
    await h.send({ op: 'put', name: 'before-kill', text: 'committed' });
    t.throws(() => Pool.open(p, { layout }), { code: 'ESHELF_LOCKED' });
    await h.kill('SIGKILL');
    const w = openPool(t, p, { layout });
    t.deepEqual(w.names(), ['before-kill']);
    t.deepEqual(w.read(w.get('before-kill').offset, 9), Buffer.from('committed'));
  });
}

// Known engine bug R8 (/work/coord/engine-bugs.md): terminating a worker thread while it is inside a pool call aborts
// the whole process ("terminate called after throwing an instance of 'Napi::Error'"); fix: compile with
// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS.
test('worker.terminate() while the worker is inside pool calls does not abort the process', (t) => {
  const dir = tempDir(t);
  const r = spawnSync(process.execPath, [path.join(FIXTURES, '140.terminate-child.js'), dir, 'pair'], { encoding: 'utf8', timeout: 60000 });
  t.is(r.signal, null, childReport(r));
  t.is(r.status, 0, childReport(r));
  t.is(r.stdout.trim(), 'ok');
});

test('an ArrayBuffer view posted to a worker is copied (Node 20): its writes never reach the pool', async (t) => {
  const dir = tempDir(t);
  const pool = openPool(t, path.join(dir, 'p'), { size: 1 << 20 });
  const { offset } = putBytes(pool, 'x', pattern('x', 64));
  const before = dump(pool);
  const view = pool.view(offset, 64);
  const worker = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.once("message", (ab) => { new Uint8Array(ab).fill(0); parentPort.postMessage(new Uint8Array(ab)[0]); });', { eval: true });
  const reply = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.postMessage(view);
  });
  await worker.terminate();
  t.is(reply, 0, 'the worker wrote its copy');
  t.is(view.byteLength, 64, 'the view was not transferred (detached)');
  t.deepEqual(dump(pool), before, 'the pool did not change: workers must open the pool themselves');
});
