'use strict';
/**
 * Tensors of every dtype (with awkward values) and a byte-exact fingerprint of a tensor, shared by the
 * round-trip tests and their child processes.
 */
const tf = require('@tensorflow/tfjs-core');

/** name -> () => tf.Tensor */
const CASES = {
  f32: () => tf.tensor([1.5, -0, NaN, Infinity, -Infinity, 1e-45, 3.4e38, -2], [2, 4], 'float32'),
  f32scalar: () => tf.scalar(Math.PI),
  f32big: () => tf.range(0, 100000, 1, 'float32'),
  i32: () => tf.tensor([0, -1, 2147483647, -2147483648, 42, 7], [3, 1, 2], 'int32'),
  bool: () => tf.tensor([true, false, false, true, true], [5], 'bool'),
  c64: () => tf.tidy(() => tf.complex(tf.tensor([1, -2.5, NaN], [3]), tf.tensor([0, 4, -Infinity], [3]))),
  str: () => tf.tensor(['', 'a', 'héllo wörld', '🙂🚀', 'x'.repeat(1000)], [5], 'string'),
  strBytes: () => tf.tensor([new Uint8Array([0, 255, 128]), new Uint8Array([])], [2], 'string'),
  strScalar: () => tf.scalar('just one', 'string'),
  empty: () => tf.zeros([0, 3]),
  emptyStr: () => tf.tensor([], [0, 2], 'string'),
};

const b64 = v => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

/** dtype, shape and the exact stored bytes (engine.readSync: complex64 interleaved, strings as bytes). */
function fingerprint(t) {
  const v = tf.engine().readSync(t.dataId);
  const data = t.dtype === 'string' ? v.map(b64) : b64(v);
  return { dtype: t.dtype, shape: t.shape, data };
}

module.exports = { CASES, fingerprint };
