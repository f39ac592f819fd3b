'use strict';
// save(value, prefix) / load(prefix): nested structures as entries, one atomic batch, arrays as views.
const test = require('ava');
const scijs = require('ndarray');
const { shelf, ndarray, ShelfError, internals } = require('@tsmm/core');
const { freshShelf, runFixture } = require('./helpers');

function model() {
  return {
    name: 'mlp',
    epoch: 3,
    config: { lr: 0.01, layers: [64, 32], opts: new Map([['beta', 0.9]]) },
    weights: [new Float32Array([1, 2, 3]), new Float32Array([4, 5])],
    bias: scijs(new Float64Array([0.5, 0.25, 0.125, 1]), [2, 2]),
    optimizer: new Map([['m', new Float32Array([7, 8])], ['step', 10n]]),
    'odd/key%': new Uint8Array([1]),
    '': Buffer.from('empty key'),
  };
}

test('save stores a nested structure as entries under the prefix; load rebuilds it with arrays as views', (t) => {
  const { s } = freshShelf(t);
  s.save(model(), 'ckpt');
  t.deepEqual(s.items, [
    'ckpt', 'ckpt/%E', 'ckpt/bias', 'ckpt/config', 'ckpt/epoch', 'ckpt/name', 'ckpt/odd%2Fkey%25',
    'ckpt/optimizer/m', 'ckpt/optimizer/step', 'ckpt/weights/0', 'ckpt/weights/1',
  ]);
  const m = s.load('ckpt');
  t.is(m.name, 'mlp');
  t.is(m.epoch, 3);
  t.deepEqual(m.config, { lr: 0.01, layers: [64, 32], opts: new Map([['beta', 0.9]]) });
  t.true(m.weights[0] instanceof Float32Array);
  t.deepEqual(Array.from(m.weights[1]), [4, 5]);
  t.is(m.bias.get(1, 0), 0.125);
  t.true(m.optimizer instanceof Map);
  t.is(m.optimizer.get('step'), 10n);
  t.deepEqual(Array.from(m.optimizer.get('m')), [7, 8]);
  t.deepEqual(Array.from(m['odd/key%']), [1]);
  t.is(m[''].toString(), 'empty key');
  // Views, not copies: writing through the loaded array changes the shelf.
  m.weights[0][0] = 100;
  t.is(s.load('ckpt').weights[0][0], 100);
  t.is(s['ckpt/weights/0'][0], 100);
  t.deepEqual(Object.keys(s.ckpt), Object.keys(m), 'reading the prefix as a variable loads it');
});

test('saving over an existing prefix replaces the old version in one batch (stale entries erased)', (t) => {
  const { s } = freshShelf(t);
  s.save({ a: new Int8Array([1]), b: new Int8Array([2]), c: { d: new Int8Array([3]) } }, 'p');
  s['p/extra'] = 1; // anything under the prefix belongs to it
  const seq = s.stats().seq;
  s.save({ a: new Int8Array([9]), z: [new Int8Array([8])] }, 'p');
  t.is(s.stats().seq, seq + 1, 'one batch');
  t.deepEqual(s.items, ['p', 'p/a', 'p/z/0']);
  const p = s.load('p');
  t.deepEqual(Object.keys(p), ['a', 'z']);
  t.is(p.a[0], 9);
  t.is(p.z[0][0], 8);
  t.is(s.stats().reserved, 0);
});

test('erasing the prefix erases the whole structure; saving over a plain variable is ESHELF_EXISTS', (t) => {
  const { s } = freshShelf(t);
  s.save({ a: [new Float64Array(2), new Float64Array(3)] }, 'q');
  s.erase('q');
  t.deepEqual(s.items, []);
  s.q = 5;
  const e = t.throws(() => s.save({ a: new Int8Array(1) }, 'q'), { instanceOf: ShelfError });
  t.is(e.code, 'ESHELF_EXISTS');
  t.is(t.throws(() => s.load('q')).code, 'ESHELF_TYPE');
  t.is(t.throws(() => s.load('missing')).code, 'ESHELF_NOT_FOUND');
  t.throws(() => s.save(new Int8Array(1), 'r'), { instanceOf: TypeError, message: /use put\(\)/ });
  const cyc = { a: new Int8Array(1) };
  cyc.self = cyc;
  t.throws(() => s.save(cyc, 'c'), { instanceOf: TypeError, message: /refers to itself/ });
  t.deepEqual(s.items, ['q']);
  t.is(s.stats().reserved, 0);
});

test('a failing save leaves the previous version whole', (t) => {
  const { s } = freshShelf(t, { sizeMb: 2 });
  s.save({ w: new Float32Array([1, 2]) }, 'ck');
  t.throws(() => s.save({ w: new Float32Array([3, 4]), f() {} }, 'ck'), { code: 'ESHELF_TYPE', message: /ck\/f, function/ });
  t.throws(() => s.save({ w: new Uint8Array(3 * 2 ** 20) }, 'ck'), { code: 'ESHELF_FULL' });
  t.deepEqual(Array.from(s.load('ck').w), [1, 2]);
  t.deepEqual(s.items, ['ck', 'ck/w']);
  t.is(s.stats().reserved, 0);
});

test('save inside a transaction commits with it, and rolls back with it', (t) => {
  const { s } = freshShelf(t);
  s.x = new Int8Array(1);
  t.throws(() => s.tx(['x'], () => { s.save({ a: new Int8Array([1]) }, 'ck'); throw new Error('no'); }));
  t.deepEqual(s.items, ['x']);
  s.tx(['x'], () => { s.save({ a: new Int8Array([1]) }, 'ck'); });
  t.deepEqual(s.items, ['ck', 'ck/a', 'x']);
});

test('a saved structure loads in another process', (t) => {
  const { s, dir, name } = freshShelf(t);
  s.save(model(), 'ckpt');
  s.close();
  const r = runFixture('dump.js', [dir, name]);
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.is(out.ckpt.kind, 'structured');
  t.regex(out.ckpt.text, /weights: \[ Float32Array\(3\) \[ 1, 2, 3 \], Float32Array\(2\) \[ 4, 5 \] \]/);
  t.deepEqual(out['ckpt/bias'].values, ['0.5', '0.25', '0.125', '1']);
  t.deepEqual(out['.inspect'].find((x) => x.name === 'ckpt'), { name: 'ckpt', kind: 'tree', dtype: '', shape: [], bytes: 0, offset: 0 });
});
