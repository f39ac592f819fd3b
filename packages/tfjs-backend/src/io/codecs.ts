/**
 * Codecs for the entries written by persistent variables, checkpoints and the shelf:// handler, so that core's
 * `s.name`, `s.items` and `inspect()` can read them, plus the one call that registers them all.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerShelfType, ShelfError, type ShelfCodec } from '@tsmm/core';
import { checkpointCodec } from '../checkpoint';
import { SLAB_KIND, backendIsZeroCopy, setCodecRegistrar, tensorFromShelf, typedOver, variableCodec } from '../variables';
import { MODEL_KIND, WEIGHT_KIND, type ShelfModelManifest } from './shelf_io';
import { isPlainWeight } from './weights';

/** `s.key` for a saved model: its manifest (topology, weight specs, training config, user metadata), parsed. */
export const modelCodec: ShelfCodec<ShelfModelManifest> = {
  kind: MODEL_KIND,
  cache: false,
  test: () => false,
  plan(): never {
    throw new TypeError("Models are saved with model.save('shelf://…') or model.save(shelfIO(s, key))");
  },
  write(): never {
    throw new TypeError("Models are saved with model.save('shelf://…') or model.save(shelfIO(s, key))");
  },
  read(_header, region, ctx) {
    try {
      return JSON.parse(Buffer.from(region.bytes()).toString('utf8')) as ShelfModelManifest;
    } catch {
      throw new ShelfError('ESHELF_CORRUPT', `the manifest of model "${ctx.name}" is not valid JSON`);
    }
  },
};

/** `s['key/w/3']` for a saved weight: a tensor (zero-copy under the 'shelf' backend). */
export const weightCodec: ShelfCodec<tf.Tensor> = {
  kind: WEIGHT_KIND,
  cache: false,
  test: () => false,
  plan(): never {
    throw new TypeError("Model weights are saved with model.save('shelf://…')");
  },
  write(): never {
    throw new TypeError("Model weights are saved with model.save('shelf://…')");
  },
  read(header, region, ctx) {
    const spec = (header as { spec?: tf.io.WeightsManifestEntry }).spec;
    if (spec == null || !Array.isArray(spec.shape)) throw new ShelfError('ESHELF_CORRUPT', `weight "${ctx.name}" has no spec`);
    const bytes = region.bytes();
    if (isPlainWeight(spec)) {
      const ab = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer as ArrayBuffer : bytes.slice().buffer;
      return tensorFromShelf(typedOver(spec.dtype, ab), spec.shape, spec.dtype, ctx.shelf, backendIsZeroCopy() && ab.byteLength > 0);
    }
    const out = tf.io.decodeWeights(bytes.slice().buffer, [spec]);
    return out[spec.name];
  },
};

/**
 * `s['P/slab/0']` for a checkpoint group's slab: its raw bytes (both halves), zero-copy, valid until the shelf is
 * closed. The variables in it are read through their own entries (`s['P/var/3']`); this is for inspection and export.
 */
export const slabCodec: ShelfCodec<Uint8Array> = {
  kind: SLAB_KIND,
  cache: false,
  test: () => false,
  plan(): never {
    throw new TypeError('Slabs are written by attachModel() and checkpoint()');
  },
  write(): never {
    throw new TypeError('Slabs are written by attachModel() and checkpoint()');
  },
  read: (_header, region) => region.bytes(),
};

let registered = false;

/** Register the codecs of `tfjs.variable`, `tfjs.checkpoint`, `tfjs.model`, `tfjs.weight` and `tfjs.slab` with core (idempotent). */
export function registerPersistenceCodecs(): void {
  if (registered) return;
  for (const c of [variableCodec, checkpointCodec, modelCodec, weightCodec, slabCodec] as ShelfCodec<unknown>[]) registerShelfType(c);
  registered = true;
}

setCodecRegistrar(registerPersistenceCodecs);
