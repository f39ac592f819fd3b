/**
 * Free throw-away initial weights when a LayersModel is loaded under the 'shelf' backend.
 *
 * `tf.loadLayersModel()` builds the model before it has the weights: with weights at hand it sets tfjs-layers'
 * "fast weight init", so every `Layer.addWeight` takes its initial value from the `zeros` initializer
 * (`tf.zeros` -> `makeZerosTypedArray`: a zero-filled JS typed array the size of the weight), and `loadWeights`
 * then assigns the loaded value, which drops the zeros unread. For a 64 MiB model that is 64 MiB allocated and
 * zeroed per load, and counted by V8 as external memory (which starts major GCs): 90% of the CPU of a zero-copy
 * `loadLayersModel('shelf://…')` (bench P2, perf-findings PF-1).
 *
 * Under the 'shelf' backend the `Zeros` initializer therefore returns a tensor over {@link ShelfBackend.makeZeros}:
 * the zeros exist only once something reads them, which a loaded weight never does. Everything else is unchanged:
 * other backends (and complex64/string dtypes) get `tf.zeros` as before, and a weight that is read (a model built
 * under 'shelf' and used without loading) reads zeros.
 *
 * How: tfjs-layers resolves the initializer by class name through tfjs-core's serialization map (`getInitializer`
 * -> `deserializeInitializer`), so registering, with `tf.serialization.SerializationMap.register`, a subclass of the
 * `Zeros` class registered there, under the same class name, replaces it without importing tfjs-layers (this
 * package does not depend on it, and it may be loaded after this package: {@link installLazyZeros} is called again
 * by every shelf:// load and when the 'shelf' backend is created, and re-installs itself if tfjs-layers
 * re-registered its own).
 */
import * as tf from '@tensorflow/tfjs-core';

type ZerosLike = { apply(shape: number[], dtype?: tf.DataType): tf.Tensor };
type ZerosClass = (new (...args: unknown[]) => ZerosLike) & { className: string; fromConfig: unknown };
/** The part of ShelfBackend used here (duck-typed: a bundled second copy of this package works the same). */
interface LazyZerosBackend { makeZeros(shape: number[], dtype: tf.DataType): tf.DataId }

const MARK = Symbol.for('tsmm.tfjs.lazyZeros');

function lazyBackend(): (tf.KernelBackend & LazyZerosBackend) | null {
  const b = tf.backend() as tf.KernelBackend & Partial<LazyZerosBackend>;
  return typeof b.makeZeros === 'function' ? (b as tf.KernelBackend & LazyZerosBackend) : null;
}

/**
 * Register the lazy `Zeros` initializer in tfjs-core's serialization map, if tfjs-layers has registered its own there
 * (else there is nothing to replace yet). Idempotent and cheap: call it before anything that may build layers.
 */
export function installLazyZeros(): boolean {
  const map = tf.serialization.SerializationMap.getMap().classNameMap as unknown as Record<string, [ZerosClass, unknown] | undefined>;
  const entry = map.Zeros;
  if (entry === undefined || typeof entry[0] !== 'function') return false;
  const Base = entry[0];
  if ((Base as unknown as Record<symbol, unknown>)[MARK] === true) return true;
  class Zeros extends Base {
    static override className = Base.className;
    override apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
      const d = dtype ?? 'float32';
      if (d === 'float32' || d === 'int32' || d === 'bool') {
        const b = lazyBackend();
        if (b !== null && Array.isArray(shape)) {
          tf.util.assertNonNegativeIntegerDimensions(shape);
          return tf.engine().makeTensorFromDataId(b.makeZeros(shape, d), shape, d, b);
        }
      }
      return super.apply(shape, dtype);
    }
  }
  Object.defineProperty(Zeros, MARK, { value: true });
  tf.serialization.SerializationMap.register(Zeros as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  return true;
}
