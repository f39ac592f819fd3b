/**
 * The tensor codec: `s.w = tensor` stores a tf.Tensor on a shelf; `s.w` returns one.
 *
 * Layout of the extent (little-endian, the machine's order; offsets from the extent start):
 *   float32, int32     n × 4 bytes
 *   bool               n × 1 byte (0 or 1)
 *   complex64          n × 4 bytes real parts, then n × 4 bytes imaginary parts
 *   string             n × uint32 byte lengths, then the UTF-8 bytes of every element back to back
 * where n = product of the shape. A tensor with no elements is a meta-only entry (length 0).
 * Header (in core's meta): `{ v: 1, dtype, shape }`.
 *
 * Reading under the 'shelf' backend is zero-copy: the tensor's values ARE the shelf memory (a view on the
 * extent, adopted by the backend with the shelf as owner). Under any other backend the data is copied in.
 * Shelf-backed tensors pin the shelf open: `close()` throws ESHELF_BUSY while any is alive, and
 * `close({force: true})` first moves their data to DRAM (they stay valid, just no longer zero-copy).
 * Erasing or replacing the entry while such a tensor lives is safe: the engine does not reuse an extent
 * while a view of it is alive.
 */
import {
  complex,
  engine,
  findBackend,
  getBackend,
  getKernel,
  tensor,
  tidy,
  Tensor,
  util,
  type BackendValues,
  type DataType,
  type TypedArray,
} from '@tensorflow/tfjs-core';
import { internals, registerShelfType, ShelfError, type Shelf, type ShelfCodec, type ShelfRegion } from '@tsmm/core';
import { SHELF_BACKEND_NAME, ShelfBackend } from './backend/backend_shelf';
import { evictOwner, liveBufferCount, type StorageOwner } from './backend/storage';

export const TENSOR_KIND = 'tfjs.tensor';
const FORMAT_VERSION = 1;
const DTYPES: readonly DataType[] = ['float32', 'int32', 'bool', 'complex64', 'string'];

export interface TensorHeader {
  v: number;
  dtype: DataType;
  shape: number[];
}

// ---- one owner per shelf, with the close hook ----------------------------------------------------------

const owners = new WeakMap<Shelf, StorageOwner>();

/**
 * The {@link StorageOwner} for memory of shelf `s` (created on first use, which also installs the shelf's
 * close hook). Everything adopted with this owner — tensors read by the codec, persistent variables —
 * makes `s.close()` throw ESHELF_BUSY while alive, and is moved to DRAM by `s.close({force: true})`.
 */
export function ownerForShelf(s: Shelf): StorageOwner {
  let owner = owners.get(s);
  if (owner !== undefined) return owner;
  const inner = internals(s);
  owner = { label: `shelf ${inner.pool.path}`, readOnly: inner.pool.readOnly };
  const o = owner;
  inner.onClose(({ force }) => {
    const n = liveBufferCount(o);
    if (n === 0) return;
    if (!force) {
      throw new ShelfError(
        'ESHELF_BUSY',
        `cannot close ${o.label}: ${n} live tensor buffer(s) use its memory; dispose them, ` +
          'or close({ force: true }) to move their data to DRAM first',
      );
    }
    evictOwner(o);
  });
  owners.set(s, owner);
  return owner;
}

/** Live tensor buffers (dataIds) whose memory is on shelf `s`. */
export function liveShelfTensorBuffers(s: Shelf): number {
  const owner = owners.get(s);
  return owner === undefined ? 0 : liveBufferCount(owner);
}

// ---- reading a tensor's data without needless copies --------------------------------------------------

/** The stored values of `t`: borrowed from the 'shelf' backend when it holds them, else read (a copy). */
function borrowOrRead(t: { dataId: object }): BackendValues {
  const b = findBackend(SHELF_BACKEND_NAME);
  if (b instanceof ShelfBackend && b.data.has(t.dataId)) return b.borrowValues(t.dataId);
  return engine().readSync(t.dataId);
}

function complexParts(t: Tensor): { real: Float32Array; imag: Float32Array } {
  const b = findBackend(SHELF_BACKEND_NAME);
  if (b instanceof ShelfBackend && b.data.has(t.dataId)) {
    const parts = (b.data.get(t.dataId) as { complexTensorInfos?: { real: { dataId: object }; imag: { dataId: object } } })
      .complexTensorInfos;
    if (parts != null) {
      return {
        real: b.borrowValues(parts.real.dataId) as Float32Array,
        imag: b.borrowValues(parts.imag.dataId) as Float32Array,
      };
    }
  }
  const merged = engine().readSync(t.dataId) as Float32Array; // [re0, im0, re1, im1, ...]
  const n = merged.length / 2;
  const real = new Float32Array(n);
  const imag = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    real[i] = merged[2 * i];
    imag[i] = merged[2 * i + 1];
  }
  return { real, imag };
}

function stringBytes(t: Tensor): Uint8Array[] {
  const v = borrowOrRead(t);
  return (v as unknown as unknown[]).map(x => (typeof x === 'string' ? util.encodeString(x) : (x as Uint8Array)));
}

function byteLengthOf(dtype: DataType, n: number, strings?: Uint8Array[]): number {
  switch (dtype) {
    case 'float32':
    case 'int32':
      return n * 4;
    case 'bool':
      return n;
    case 'complex64':
      return n * 8;
    case 'string': {
      let total = n * 4;
      for (const s of strings ?? []) total += s.length;
      return total;
    }
    default:
      throw new ShelfError('ESHELF_TYPE', `tensor dtype ${String(dtype)} cannot be put on a shelf`);
  }
}

// plan() and write() see the same tensor back to back; keep the encoded strings in between.
const pendingStrings = new WeakMap<Tensor, Uint8Array[]>();

// ---- the codec ------------------------------------------------------------------------------------------

function corrupt(name: string, why: string): ShelfError {
  return new ShelfError('ESHELF_CORRUPT', `tensor ${JSON.stringify(name)}: ${why}`);
}

function checkHeader(h: Record<string, unknown>, name: string): TensorHeader {
  if (h.v !== FORMAT_VERSION) throw corrupt(name, `unknown tensor format version ${JSON.stringify(h.v)}`);
  if (!DTYPES.includes(h.dtype as DataType)) throw corrupt(name, `unknown dtype ${JSON.stringify(h.dtype)}`);
  const shape = h.shape;
  if (!Array.isArray(shape) || !shape.every(d => Number.isSafeInteger(d) && d >= 0)) {
    throw corrupt(name, `bad shape ${JSON.stringify(shape)}`);
  }
  return { v: FORMAT_VERSION, dtype: h.dtype as DataType, shape: shape as number[] };
}

function viewOf<T extends TypedArray>(
  Ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
  byteOffset: number,
  n: number,
): T | null {
  const at = bytes.byteOffset + byteOffset;
  if (at % Ctor.BYTES_PER_ELEMENT !== 0) return null; // never for 64-byte aligned extents
  return new Ctor(bytes.buffer, at, n);
}

export const tensorCodec: ShelfCodec<Tensor> = {
  kind: TENSOR_KIND,
  // Every `s.w` makes a new tensor (zero-copy under 'shelf', so cheap): a cached one could have been disposed.
  cache: false,

  test(value: unknown): boolean {
    return value instanceof Tensor;
  },

  plan(t: Tensor) {
    if (t.isDisposed) throw new TypeError('Cannot put a disposed tensor on a shelf');
    const n = t.size;
    let strings: Uint8Array[] | undefined;
    if (t.dtype === 'string') {
      strings = stringBytes(t);
      pendingStrings.set(t, strings);
    }
    const byteLength = n === 0 ? 0 : byteLengthOf(t.dtype, n, strings);
    const header: TensorHeader = { v: FORMAT_VERSION, dtype: t.dtype, shape: t.shape.slice() };
    return { byteLength, header: header as unknown as Record<string, unknown> };
  },

  write(t: Tensor, dest: Uint8Array): void {
    const n = t.size;
    if (n === 0) return;
    switch (t.dtype) {
      case 'float32':
      case 'int32':
      case 'bool': {
        const v = borrowOrRead(t) as TypedArray;
        const src = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        if (t.dtype === 'bool' && !(v instanceof Uint8Array)) {
          for (let i = 0; i < n; i++) dest[i] = v[i] ? 1 : 0;
        } else {
          dest.set(src);
        }
        break;
      }
      case 'complex64': {
        const { real, imag } = complexParts(t);
        dest.set(new Uint8Array(real.buffer, real.byteOffset, n * 4), 0);
        dest.set(new Uint8Array(imag.buffer, imag.byteOffset, n * 4), n * 4);
        break;
      }
      case 'string': {
        const strings = pendingStrings.get(t) ?? stringBytes(t);
        pendingStrings.delete(t);
        const lengths = new DataView(dest.buffer, dest.byteOffset, n * 4);
        let at = n * 4;
        for (let i = 0; i < n; i++) {
          lengths.setUint32(i * 4, strings[i].length, true);
          dest.set(strings[i], at);
          at += strings[i].length;
        }
        break;
      }
      default:
        throw new ShelfError('ESHELF_TYPE', `tensor dtype ${String(t.dtype)} cannot be put on a shelf`);
    }
  },

  read(h: Record<string, unknown>, region: ShelfRegion, ctx: { shelf: Shelf; name: string }): Tensor {
    const { dtype, shape } = checkHeader(h, ctx.name);
    const n = util.sizeFromShape(shape);
    if (n === 0) {
      if (region.byteLength !== 0) throw corrupt(ctx.name, `${region.byteLength} bytes for an empty tensor`);
      return tensor([], shape, dtype);
    }
    const bytes = region.bytes();
    if (dtype !== 'string' && bytes.byteLength !== byteLengthOf(dtype, n)) {
      throw corrupt(ctx.name, `${bytes.byteLength} bytes for ${n} ${dtype} values`);
    }
    const onShelf = getBackend() === SHELF_BACKEND_NAME;
    const backend = onShelf ? (findBackend(SHELF_BACKEND_NAME) as ShelfBackend) : null;
    const owner = onShelf ? ownerForShelf(ctx.shelf) : null;

    switch (dtype) {
      case 'float32':
      case 'int32': {
        const Ctor = dtype === 'float32' ? Float32Array : Int32Array;
        const view = dtype === 'float32' ? viewOf(Float32Array, bytes, 0, n) : viewOf(Int32Array, bytes, 0, n);
        if (backend && owner && view) return backend.adoptTensor(view, shape, dtype, owner);
        const copy = view ? view.slice() : new Ctor(bytes.slice().buffer);
        return tensor(copy, shape, dtype);
      }
      case 'bool': {
        if (backend && owner) return backend.adoptTensor(bytes, shape, dtype, owner);
        return tensor(bytes.slice(), shape, dtype);
      }
      case 'complex64': {
        if (!backend && getKernel('Complex', getBackend()) == null) {
          throw new Error(
            `tensor ${JSON.stringify(ctx.name)} is complex64, which backend '${getBackend()}' cannot hold (no Complex kernel)`,
          );
        }
        const real = viewOf(Float32Array, bytes, 0, n);
        const imag = viewOf(Float32Array, bytes, n * 4, n);
        if (backend && owner && real && imag) return backend.adoptTensor({ real, imag }, shape, dtype, owner);
        const re = real ? real.slice() : new Float32Array(bytes.slice(0, n * 4).buffer);
        const im = imag ? imag.slice() : new Float32Array(bytes.slice(n * 4).buffer);
        return tidy(() => complex(tensor(re, shape, 'float32'), tensor(im, shape, 'float32')));
      }
      case 'string': {
        if (bytes.byteLength < n * 4) throw corrupt(ctx.name, `${bytes.byteLength} bytes cannot hold ${n} string lengths`);
        const lengths = new DataView(bytes.buffer, bytes.byteOffset, n * 4);
        const parts: Uint8Array[] = new Array(n);
        let at = n * 4;
        for (let i = 0; i < n; i++) {
          const len = lengths.getUint32(i * 4, true);
          if (at + len > bytes.byteLength) throw corrupt(ctx.name, `string ${i} runs past the end of the entry`);
          parts[i] = onShelf ? bytes.subarray(at, at + len) : bytes.slice(at, at + len);
          at += len;
        }
        if (at !== bytes.byteLength) throw corrupt(ctx.name, `${bytes.byteLength - at} trailing bytes after the strings`);
        if (backend && owner) return backend.adoptTensor(parts, shape, dtype, owner);
        return tensor(parts, shape, 'string');
      }
      default:
        throw corrupt(ctx.name, `unknown dtype ${String(dtype)}`);
    }
  },
};

/** Register the tensor codec with core (index.ts does this on import). Idempotent: core replaces by kind. */
export function registerTensorCodec(): void {
  registerShelfType(tensorCodec as ShelfCodec<unknown>);
}
