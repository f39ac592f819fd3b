/**
 * The bytes codec (kind `bytes`): `Buffer`, `ArrayBuffer` and `DataView`, each returned as the same class viewing shelf
 * memory (zero copy), valid until the shelf is closed (then detached, length 0). Header: `{type}`.
 */
import { MAX_VIEW_BYTES, ShelfError } from '@tsmm/native';
import type { ShelfCodec } from './registry';

type Bytes = Buffer | ArrayBuffer | DataView;

function typeOf(v: unknown): 'Buffer' | 'ArrayBuffer' | 'DataView' | undefined {
  if (Buffer.isBuffer(v)) return 'Buffer';
  if (v instanceof ArrayBuffer) return 'ArrayBuffer';
  if (v instanceof DataView) return 'DataView';
  return undefined;
}

function bytesOf(v: Bytes): Uint8Array {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** The built-in codec for Buffer, ArrayBuffer and DataView. */
export const bytesCodec: ShelfCodec<Bytes> = {
  kind: 'bytes',
  test: (v) => typeOf(v) !== undefined,
  plan(v) {
    if (v.byteLength > MAX_VIEW_BYTES) throw new RangeError(`A ${typeOf(v)} of ${v.byteLength} bytes is larger than one 4 GiB view`);
    return { byteLength: v.byteLength, header: { type: typeOf(v) } };
  },
  write(v, dest) {
    dest.set(bytesOf(v));
  },
  read(header, region) {
    const b = region.bytes();
    const ab = region.byteLength === 0 ? new ArrayBuffer(0) : (b.buffer as ArrayBuffer);
    switch (header.type) {
      case 'Buffer': return Buffer.from(ab, b.byteOffset, b.byteLength);
      case 'ArrayBuffer': return ab;
      case 'DataView': return new DataView(ab, b.byteOffset, b.byteLength);
      default: throw new ShelfError('ESHELF_CORRUPT', `bytes header names an unknown type ${JSON.stringify(header.type)}`);
    }
  },
};
