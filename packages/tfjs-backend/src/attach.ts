/**
 * attachModel: put a LayersModel's weights and its optimizer's state on a shelf, and resume from it.
 *
 * ```ts
 * const s = shelf('train', { sizeMb: 256 });
 * model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
 * const { resumed, step } = attachModel(s, 'mnist', model);   // loads the last checkpoint if there is one
 * for (let i = resumed ? step : 0; i < steps; i++) {
 *   await model.trainOnBatch(xs[i], ys[i]);                  // updates land in the shelf
 *   if (i % 100 === 99) checkpoint(s, 'mnist', { step: i + 1 }); // durable, crash-atomic
 * }
 * ```
 *
 * Every weight of the model is re-homed (trainable or not: BatchNormalization's moving statistics too), and so is
 * every variable of the optimizer as soon as it exists (tfjs creates slot variables at the first training step).
 * `model.fit()`, `trainOnBatch()` and custom loops run unchanged. See checkpoint.ts for the layout and the protocol.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Shelf } from '@tsmm/core';
import { attachVariables, detach, type CheckpointState, type OptimizerLike } from './checkpoint';

/** The part of a tfjs-layers LayersModel that attachModel uses. */
export interface AttachableModel {
  readonly weights: { read(): tf.Variable }[];
  optimizer?: unknown;
}

/** Options of {@link attachModel}. */
export interface AttachOptions {
  /** The optimizer whose state is kept with the weights. Default: `model.optimizer` (set by `compile()`). */
  optimizer?: tf.Optimizer | null;
}

/** What {@link attachModel} returns: the checkpoint state now in force. */
export interface AttachResult extends CheckpointState {
  /** True when the weights and optimizer state were loaded from a checkpoint taken by an earlier `checkpoint()` call. */
  resumed: boolean;
}

/** The distinct tf.Variables behind a model's weights, in `model.weights` order. */
export function modelVariables(model: AttachableModel): tf.Variable[] {
  if (model === null || typeof model !== 'object' || !Array.isArray(model.weights)) {
    throw new TypeError('Expected a tfjs-layers LayersModel (an object with "weights")');
  }
  const seen = new Set<tf.Variable>();
  const out: tf.Variable[] = [];
  for (const w of model.weights) {
    const v = w.read();
    if (!seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  }
  return out;
}

/**
 * Re-home every weight of `model` and its optimizer's state onto shelf `s` under `prefix`. If the prefix already holds
 * a state, model and optimizer are loaded from it first (this is how training resumes); otherwise their current values
 * are stored as the initial state. Attach after `compile()` so that the optimizer is known.
 *
 * Errors: `ESHELF_TYPE` (the stored state does not fit the model or optimizer: the message says what differs),
 * `ESHELF_CORRUPT`, `ESHELF_FULL`, `ESHELF_NAME` (bad prefix), TypeError (bad arguments).
 */
export function attachModel(s: Shelf, prefix: string, model: AttachableModel, options: AttachOptions = {}): AttachResult {
  if (options === null || typeof options !== 'object') throw new TypeError('Expected the options to be an object');
  for (const k of Object.keys(options)) if (k !== 'optimizer') throw new TypeError(`Unknown option "${k}" (expected: optimizer)`);
  const vars = modelVariables(model);
  const optimizer = (options.optimizer !== undefined ? options.optimizer : (model.optimizer ?? null)) as (OptimizerLike & object) | null;
  return attachVariables(s, prefix, vars, { optimizer });
}

/** Undo {@link attachModel}: the model keeps its current weights in memory; updates no longer reach the shelf. */
export function detachModel(s: Shelf, prefix: string): void {
  detach(s, prefix);
}
