/**
 * The scalar codec (kind `scalar`): `string`, `number`, `bigint`, `boolean` and `null`, returned as values.
 * Numbers, bigints, booleans and null live in the meta alone (an entry with an empty extent); strings are stored in the
 * extent as UTF-8. Header: `{type, value}` (value as JSON; `NaN`, `±Infinity`, `-0` and bigints as strings).
 */
import { ShelfError } from '@tsmm/native';
import type { ShelfCodec } from './registry';

type Scalar = string | number | bigint | boolean | null;

function encodeNumber(n: number): number | string {
  if (Object.is(n, -0)) return '-0';
  if (Number.isFinite(n)) return n;
  return String(n); // NaN, Infinity, -Infinity
}

function decodeNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  switch (v) {
    case '-0': return -0;
    case 'NaN': return NaN;
    case 'Infinity': return Infinity;
    case '-Infinity': return -Infinity;
    default: throw new ShelfError('ESHELF_CORRUPT', `scalar header holds a malformed number ${JSON.stringify(v)}`);
  }
}

/** The built-in codec for primitive values. */
export const scalarCodec: ShelfCodec<Scalar> = {
  kind: 'scalar',
  test: (v) => v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v),
  plan(v) {
    if (typeof v === 'string') return { byteLength: Buffer.byteLength(v, 'utf8'), header: { type: 'string' } };
    if (typeof v === 'number') return { byteLength: 0, header: { type: 'number', value: encodeNumber(v) } };
    if (typeof v === 'bigint') return { byteLength: 0, header: { type: 'bigint', value: v.toString() } };
    if (typeof v === 'boolean') return { byteLength: 0, header: { type: 'boolean', value: v } };
    return { byteLength: 0, header: { type: 'null' } };
  },
  write(v, dest) {
    Buffer.from(dest.buffer, dest.byteOffset, dest.byteLength).write(v as string, 'utf8');
  },
  read(header, region) {
    switch (header.type) {
      case 'string': {
        const b = region.bytes();
        return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
      }
      case 'number': return decodeNumber(header.value);
      case 'bigint':
        if (typeof header.value !== 'string' || !/^-?[0-9]+$/.test(header.value)) break;
        return BigInt(header.value);
      case 'boolean':
        if (typeof header.value !== 'boolean') break;
        return header.value;
      case 'null': return null;
    }
    throw new ShelfError('ESHELF_CORRUPT', `scalar header is malformed: ${JSON.stringify(header)}`);
  },
};
