'use strict';
// Checkpoint-group layout: new groups keep their buffers in slabs (all buffer 0s, then all buffer 1s), so that a
// checkpoint's working buffers are one contiguous run; groups written with the earlier layout (one extent per member,
// header v 1) still open, resume, checkpoint and reopen.
const test = require('ava');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-layers'); // registers the gradients
const tb = require('@tsmm/tfjs-backend');
const { shelf, internals } = require('@tsmm/core');
const { freshShelf, quietTfjs } = require('./fixtures/50.helpers');

quietTfjs();

function header(s, name) {
  const inner = internals(s);
  const e = inner.pool.get(name);
  return { e, ...inner.decodeMeta(e.meta) };
}

/** Write, by hand, a group in the layout used before slabs: one [b0|b1] extent per member, header v 1. */
function writeLegacyGroup(s, prefix, vars, slots, iterations) {
  const inner = internals(s);
  const ops = [];
  const put = (name, values, shape, active) => {
    const bytes = values.length * 4;
    const off = inner.pool.alloc(2 * bytes);
    new Float32Array(inner.pool.view(off + active * bytes, bytes)).set(values);
    new Float32Array(inner.pool.view(off + (1 - active) * bytes, bytes)).fill(NaN); // never read
    inner.pool.persist(off, 2 * bytes);
    ops.push({ type: 'put', name, offset: off, length: 2 * bytes, meta: inner.encodeMeta('tfjs.variable', { v: 1, dtype: 'float32', shape, buffers: 2, active, trainable: true }) });
  };
  vars.forEach((v, i) => put(`${prefix}/var/${i}`, v.values, v.shape, i % 2));
  slots.forEach((v, i) => put(`${prefix}/opt/accumulations/${i}`, v.values, v.shape, (i + 1) % 2));
  const state = {
    v: 1, initial: false, step: 7, time: new Date().toISOString(),
    variables: vars.map((v, i) => ({ name: `w${i}`, dtype: 'float32', shape: v.shape })),
    optimizer: { className: 'Momentum', iterations, slots: slots.map((v, i) => ({ field: 'accumulations', index: i, suffix: '/momentum', dtype: 'float32', shape: v.shape })) },
  };
  ops.push({ type: 'put', name: `${prefix}/state`, offset: 0, length: 0, meta: inner.encodeMeta('tfjs.checkpoint', state) });
  inner.commit(ops);
}

const VALS = [{ shape: [3], values: [1, 2, 3] }, { shape: [2, 2], values: [4, 5, 6, 7] }];

function step(opt, ws) {
  opt.minimize(() => tf.add(tf.sum(tf.square(ws[0])), tf.sum(tf.mul(ws[1], ws[1]))), false, ws);
}

for (const backend of ['shelf', 'cpu']) {
  test.serial(`${backend}: a new group lays its buffers out as slabs, one working run per slab`, async (t) => {
    await tf.setBackend(backend);
    const { s } = freshShelf(t);
    const ws = VALS.map((v, i) => tf.variable(tf.tensor(v.values, v.shape), true, `lay_${backend}_${i}`));
    const opt = tf.train.adam(0.1);
    tb.attachVariables(s, 'g', ws, { optimizer: opt });
    const pool = internals(s).pool;
    t.deepEqual(pool.names('g/slab/'), ['g/slab/0', 'g/slab/1'], 'the weights, then accBeta1/2');
    const slab = header(s, 'g/slab/0');
    t.is(slab.kind, 'tfjs.slab');
    const half = slab.header.half;
    t.is(slab.e.length, 2 * half);
    const h0 = header(s, 'g/var/0');
    const h1 = header(s, 'g/var/1');
    t.is(h0.header.v, 2);
    t.is(h0.e.length, 0, 'members are meta-only');
    t.is(h0.header.slab, 'g/slab/0');
    t.is(h0.header.at, 0);
    t.is(h1.header.at % 64, 0);
    t.true(h1.header.at >= 12);
    step(opt, ws);
    tb.checkpoint(s, 'g', { step: 1 });
    t.deepEqual(pool.names('g/slab/'), ['g/slab/0', 'g/slab/1', 'g/slab/2'], 'the slots appeared together: one more slab');
    t.is(pool.names('g/opt/').length, 2 + 4);
    // every member flipped together: all working (now committed) buffers are in the same half
    for (const n of ['g/var/0', 'g/var/1']) t.is(header(s, n).header.active, 1);
    const want = ws.map((w) => Array.from(w.dataSync()));
    // the committed value, as the codec reads it, is the variable's
    t.deepEqual(Array.from(s['g/var/1'].dataSync()), want[1]);
    // a slab reads as its raw bytes (zero copy): variable 1's committed buffer is at `at` of half 1
    const raw = s['g/slab/0'];
    t.true(raw instanceof Uint8Array);
    t.is(raw.byteLength, 2 * half);
    const committed = new Float32Array(raw.buffer, raw.byteOffset + half + h1.header.at, want[1].length);
    t.deepEqual(Array.from(committed), want[1]);
    step(opt, ws);
    tb.checkpoint(s, 'g', { step: 2 });
    for (const n of ['g/var/0', 'g/var/1']) t.is(header(s, n).header.active, 0);
    const want2 = ws.map((w) => Array.from(w.dataSync()));
    step(opt, ws); // not checkpointed
    tb.detach(s, 'g');
    const path = internals(s).pool.path;
    s.close({ force: true });
    const s2 = shelf(require('node:path').basename(path), { pmemPath: require('node:path').dirname(path) });
    t.teardown(() => { try { s2.close({ force: true }); } catch { /* failed already */ } });
    const ws2 = VALS.map((v, i) => tf.variable(tf.zeros(v.shape), true, `lay2_${backend}_${i}`));
    const opt2 = tf.train.adam(0.1);
    const r = tb.attachVariables(s2, 'g', ws2, { optimizer: opt2 });
    t.true(r.resumed);
    t.is(r.step, 2);
    t.deepEqual(ws2.map((w) => Array.from(w.dataSync())), want2);
    t.is(internals(s2).pool.stats().reserved, 0);
    tb.detach(s2, 'g');
    tf.dispose([...ws, ...ws2]);
    opt.dispose();
    opt2.dispose();
  });

  test.serial(`${backend}: a group in the per-variable layout (v 1) resumes, checkpoints and reopens`, async (t) => {
    await tf.setBackend(backend);
    const { s, dir, name } = freshShelf(t);
    // slots for the first variable only: the second one's appears at the next step, in a new slab
    writeLegacyGroup(s, 'old', VALS, [{ shape: [3], values: [0.5, 0.25, 0.125] }], 7);
    const ws = VALS.map((v, i) => tf.variable(tf.zeros(v.shape), true, `leg_${backend}_${i}`));
    const opt = tf.train.momentum(0.01, 0.9);
    const r = tb.attachVariables(s, 'old', ws, { optimizer: opt });
    t.true(r.resumed);
    t.is(r.step, 7);
    t.is(opt.iterations, 7);
    t.deepEqual(ws.map((w) => Array.from(w.dataSync())), VALS.map((v) => v.values));
    t.deepEqual(Array.from(opt.accumulations[0].variable.dataSync()), [0.5, 0.25, 0.125]);
    t.deepEqual(Array.from(s['old/var/1'].dataSync()), VALS[1].values, 'the codec reads a v 1 member');
    // the reference: the same step on plain variables, slot 0 primed with the stored value, slot 1 made by the step
    const ref = VALS.map((v) => tf.variable(tf.tensor(v.values, v.shape)));
    const refOpt = tf.train.momentum(0.01, 0.9);
    refOpt.accumulations[0] = { originalName: `${ref[0].name}/momentum`, variable: tf.variable(tf.tensor([0.5, 0.25, 0.125]), false) };
    step(refOpt, ref);
    step(opt, ws);
    t.deepEqual(ws.map((w) => Array.from(w.dataSync())), ref.map((w) => Array.from(w.dataSync())));
    tb.checkpoint(s, 'old', { step: 8 });
    t.is(header(s, 'old/var/0').header.v, 1, 'existing members keep their layout');
    t.is(header(s, 'old/opt/accumulations/0').header.v, 1);
    t.is(header(s, 'old/opt/accumulations/1').header.v, 2, 'the new slot is in a slab');
    t.deepEqual(internals(s).pool.names('old/slab/'), ['old/slab/0']);
    const want = ws.map((w) => Array.from(w.dataSync()));
    const wantSlots = opt.accumulations.map((a) => Array.from(a.variable.dataSync()));
    tb.detach(s, 'old');
    s.close({ force: true });
    const s2 = shelf(name, { pmemPath: dir });
    t.teardown(() => { try { s2.close({ force: true }); } catch { /* failed already */ } });
    const ws2 = VALS.map((v, i) => tf.variable(tf.zeros(v.shape), true, `leg2_${backend}_${i}`));
    const opt2 = tf.train.momentum(0.01, 0.9);
    const r2 = tb.attachVariables(s2, 'old', ws2, { optimizer: opt2 });
    t.true(r2.resumed);
    t.is(r2.step, 8);
    t.deepEqual(ws2.map((w) => Array.from(w.dataSync())), want);
    t.deepEqual(opt2.accumulations.map((a) => Array.from(a.variable.dataSync())), wantSlots);
    t.is(internals(s2).pool.stats().reserved, 0);
    tb.detach(s2, 'old');
    tf.dispose([...ws, ...ws2, ...ref]);
    for (const o of [opt, opt2, refOpt]) o.dispose();
  });
}
