/**
 * The typed-array codec (kind `typed`): `Int8Array` … `Float64Array`, `BigInt64Array`, `BigUint64Array`,
 * `Uint8ClampedArray`. A stored typed array comes back as the same class viewing shelf memory (zero copy), valid until the
 * shelf is closed (then detached, length 0); erasing the variable does not invalidate it. Header: `{type, length}`.
 */
import { MAX_VIEW_BYTES, ShelfError } from '@tsmm/native';
import { DTYPE_CTORS, DTYPES, type TypedArray, type TypedArrayConstructor } from '../dtypes';
import type { ShelfCodec } from './registry';

const CLASSES = new Map<string, TypedArrayConstructor>(DTYPES.map((d) => [DTYPE_CTORS[d].name, DTYPE_CTORS[d]]));

/** The built-in codec for typed arrays of the eleven standard classes (not subclasses; `Buffer` has its own). */
export const typedCodec: ShelfCodec<TypedArray> = {
  kind: 'typed',
  test(v) {
    if (!ArrayBuffer.isView(v) || v instanceof DataView) return false;
    const ctor = Object.getPrototypeOf(v)?.constructor as TypedArrayConstructor | undefined;
    return ctor !== undefined && CLASSES.get(ctor.name) === ctor;
  },
  plan(v) {
    if (v.byteLength > MAX_VIEW_BYTES) {
      throw new RangeError(`A ${v.constructor.name} of ${v.byteLength} bytes is larger than one 4 GiB view: put it as an ndarray`);
    }
    return { byteLength: v.byteLength, header: { type: v.constructor.name, length: v.length } };
  },
  write(v, dest) {
    dest.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  },
  read(header, region) {
    const Ctor = typeof header.type === 'string' ? CLASSES.get(header.type) : undefined;
    const length = header.length;
    if (Ctor === undefined || typeof length !== 'number' || length * Ctor.BYTES_PER_ELEMENT !== region.byteLength) {
      throw new ShelfError('ESHELF_CORRUPT', `typed-array header ${JSON.stringify(header)} does not match its ${region.byteLength}-byte extent`);
    }
    if (length === 0) return new Ctor(0);
    const b = region.bytes();
    return new Ctor(b.buffer, b.byteOffset, length);
  },
};
