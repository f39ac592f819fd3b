/**
 * Weight bytes for the shelf:// handler: sizes from weight specs, copies out of tfjs' concatenated buffers, and the
 * zero-copy decode of weights loaded from a shelf.
 *
 * Two traps in tfjs' weight loading that this module works around:
 * - `tf.io.decodeWeights` always copies (`CompositeArrayBuffer.slice`), even when a weight is one whole buffer.
 * - `weightData` given as a typed-array view is silently misread: `CompositeArrayBuffer` takes `view.buffer` and ignores
 *   `byteOffset`/`byteLength`. Weights are therefore always handed to tfjs as whole ArrayBuffers: one zero-copy
 *   `pool.view()` per weight entry, exactly the weight's bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Shelf } from '@tsmm/core';
import { backendCopiesOnWrite, backendIsZeroCopy, tensorFromShelf, typedOver, sizeOf, type ShelfVariableDtype } from '../variables';

const STRING_LENGTH_BYTES = 4;
const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** Bytes of weight data as a list of whole ArrayBuffers (what tfjs 4.x calls WeightData). */
export function shardsOf(data: tf.io.WeightData | undefined): ArrayBuffer[] {
  if (data === undefined || data === null) return [];
  const list = Array.isArray(data) ? data : [data];
  return list.map((b) => {
    if (b instanceof ArrayBuffer) return b;
    throw new TypeError('Expected weightData to be an ArrayBuffer or an array of ArrayBuffers');
  });
}

/** Reads bytes `[start, end)` of the concatenation of `shards` without copying more than asked. */
export class ShardReader {
  private readonly shards: ArrayBuffer[];
  private readonly starts: number[] = [];
  readonly byteLength: number;

  constructor(shards: ArrayBuffer[]) {
    this.shards = shards;
    let at = 0;
    for (const s of shards) {
      this.starts.push(at);
      at += s.byteLength;
    }
    this.byteLength = at;
  }

  /** Copy bytes `[start, start + dest.length)` into `dest`. */
  copyInto(start: number, dest: Uint8Array): void {
    let done = 0;
    let i = this.shardAt(start);
    while (done < dest.length) {
      const shard = this.shards[i];
      const local = start + done - this.starts[i];
      const n = Math.min(shard.byteLength - local, dest.length - done);
      dest.set(new Uint8Array(shard, local, n), done);
      done += n;
      i++;
    }
  }

  /**
   * Copy bytes `[start, start + length)` into `pool` at `offset`, with `pool.write` (no view of the pool is created, so
   * nothing pins the extent after this returns).
   */
  writeTo(pool: { write(offset: number, data: Uint8Array): void }, offset: number, start: number, length: number): void {
    let done = 0;
    let i = this.shardAt(start);
    while (done < length) {
      const shard = this.shards[i];
      const local = start + done - this.starts[i];
      const n = Math.min(shard.byteLength - local, length - done);
      pool.write(offset + done, new Uint8Array(shard, local, n));
      done += n;
      i++;
    }
  }

  /** A little-endian uint32 at `at` (string weights store each string's length so). */
  uint32(at: number): number {
    const b = new Uint8Array(4);
    this.copyInto(at, b);
    return new DataView(b.buffer).getUint32(0, true);
  }

  private shardAt(byte: number): number {
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= byte) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/**
 * Byte length of the weight described by `spec`, found at `offset` of `data` (string weights are length-prefixed, so
 * their size is read from the data, as tfjs does).
 */
export function weightByteLength(spec: tf.io.WeightsManifestEntry, data: ShardReader, offset: number): number {
  const size = sizeOf(spec.shape);
  if (spec.quantization !== undefined) return size * VALUE_BYTES[spec.quantization.dtype];
  if (spec.dtype === 'string') {
    let n = 0;
    for (let i = 0; i < size; i++) n += STRING_LENGTH_BYTES + data.uint32(offset + n);
    return n;
  }
  const per = VALUE_BYTES[spec.dtype];
  if (per === undefined) throw new TypeError(`Unsupported dtype "${spec.dtype}" in weight "${spec.name}"`);
  return size * per;
}

/** True when a weight's stored bytes are exactly its values (no quantization, a numeric dtype tfjs stores flat). */
export function isPlainWeight(spec: tf.io.WeightsManifestEntry): spec is tf.io.WeightsManifestEntry & { dtype: ShelfVariableDtype } {
  return spec.quantization === undefined && (spec.dtype === 'float32' || spec.dtype === 'int32' || spec.dtype === 'bool');
}

// ---------------------------------------------------------------------------------------------
// zero-copy decode

/** weightData arrays this module handed to tfjs, with the shelf they view. */
interface FromShelf { shelf: Shelf; specs: tf.io.WeightsManifestEntry[]; afterDecode: (() => void) | null }
const fromShelf = new WeakMap<ArrayBuffer[], FromShelf>();

/**
 * Mark `weightData` (one whole buffer per weight of `specs`, viewing `shelf`) for the zero-copy decode.
 * `afterDecode` is called once the tensors no longer need the views (not under a zero-copy backend, where they adopt them).
 */
export function markShelfWeights(weightData: ArrayBuffer[], specs: tf.io.WeightsManifestEntry[], shelf: Shelf, afterDecode: (() => void) | null = null): void {
  installDecodeHook();
  fromShelf.set(weightData, { shelf, specs, afterDecode });
}

const HOOKED = Symbol.for('tsmm.tfjs.decodeWeights');

/**
 * Wrap `tf.io.decodeWeights` once so that weights coming from a shelf become tensors in the fewest copies the backend
 * allows: none under the `'shelf'` backend (the tensors adopt the shelf memory), one elsewhere. Any other call goes to
 * tfjs' own function unchanged. tfjs-layers looks `tf.io.decodeWeights` up at call time, which is what makes this work;
 * where `tf.io` cannot be patched (an ES-module namespace), loading still works, with tfjs' one copy.
 */
function installDecodeHook(): void {
  const io = tf.io as unknown as Record<string | symbol, unknown>;
  if (io[HOOKED] === true) return;
  const original = io.decodeWeights as typeof tf.io.decodeWeights;
  const decode = function decodeWeights(weightData: tf.io.WeightData, specs: tf.io.WeightsManifestEntry[]): tf.NamedTensorMap {
    const info = Array.isArray(weightData) ? fromShelf.get(weightData) : undefined;
    if (info === undefined || specs.length !== (weightData as ArrayBuffer[]).length) return original(weightData, specs);
    const zeroCopy = backendIsZeroCopy();
    const out: tf.NamedTensorMap = {};
    let adopted = false;
    specs.forEach((spec, i) => {
      const ab = (weightData as ArrayBuffer[])[i];
      if (isPlainWeight(spec) && ab.byteLength === sizeOf(spec.shape) * VALUE_BYTES[spec.dtype]) {
        const zc = zeroCopy && ab.byteLength > 0;
        adopted ||= zc;
        out[spec.name] = tensorFromShelf(typedOver(spec.dtype, ab), spec.shape, spec.dtype, info.shelf, zc);
      } else {
        Object.assign(out, original([ab], [spec]));
      }
    });
    fromShelf.delete(weightData as ArrayBuffer[]);
    if (!adopted && info.afterDecode !== null) info.afterDecode();
    return out;
  };
  try {
    io.decodeWeights = decode;
    io[HOOKED] = true;
  } catch {
    // frozen namespace: keep tfjs' decoder
  }
}

/** For tests: whether the zero-copy decoder is in place, and how the active backend takes typed arrays. */
export function decodeInfo(): { hooked: boolean; zeroCopy: boolean; copiesOnWrite: boolean } {
  const io = tf.io as unknown as Record<string | symbol, unknown>;
  return { hooked: io[HOOKED] === true, zeroCopy: backendIsZeroCopy(), copiesOnWrite: backendCopiesOnWrite() };
}
