/**
 * The structured codec (kind `v8`): plain objects, arrays, `Map`, `Set`, `Date`, `RegExp`, errors, boxed primitives and
 * typed arrays nested in them, stored with `v8.serialize` and read back with `v8.deserialize` — data only, never anything
 * that can run code. Values come back as **copies** (a fresh copy on every access; changing it does not change the shelf).
 *
 * Only values made of the types above are accepted: a function, symbol, class instance (e.g. `new Foo()`), `WeakMap`,
 * `Promise` or `Proxy` anywhere inside is `ESHELF_TYPE`, naming where it was found (`non-shelf type (y.a.b, Foo) ...`).
 * Header: `{v8, byteLength, crc}`; before deserialising, the extent's length, v8 version byte and CRC32C are checked
 * (`ESHELF_CORRUPT` on mismatch).
 */
import * as v8 from 'node:v8';
import * as util from 'node:util';
import { crc32c, ShelfError } from '@tsmm/native';
import { dtypeOfTypedArray } from '../dtypes';
import type { ShelfCodec } from './registry';

/** Thrown by `plan` when `value` (found at `path` inside the stored value) cannot be stored. Core turns it into ESHELF_TYPE. */
export class NonShelfValue extends Error {
  readonly path: string;
  readonly value: unknown;
  constructor(path: string, value: unknown, reason?: string) {
    super(reason ?? 'non-shelf value');
    this.path = path;
    this.value = value;
  }
}

const V8_VERSION = v8.serialize(null)[1];

const LEAF_PROTOS = new Set<unknown>([
  Date.prototype, RegExp.prototype, Number.prototype, String.prototype, Boolean.prototype, BigInt.prototype,
  Error.prototype, EvalError.prototype, RangeError.prototype, ReferenceError.prototype, SyntaxError.prototype,
  TypeError.prototype, URIError.prototype, ArrayBuffer.prototype, DataView.prototype,
]);

function key(k: unknown): string {
  if (typeof k === 'string' && /^[A-Za-z_$][\w$]*$/.test(k)) return `.${k}`;
  if (typeof k === 'string' && /^(0|[1-9][0-9]*)$/.test(k)) return `[${k}]`;
  return `[${typeof k === 'string' ? JSON.stringify(k) : String(k)}]`;
}

/** Throw {@link NonShelfValue} for the first part of `v` the structured codec cannot store. */
export function checkStructured(v: unknown, path = '', seen = new Set<object>()): void {
  const t = typeof v;
  if (t === 'function' || t === 'symbol') throw new NonShelfValue(path, v);
  if (t !== 'object' || v === null) return;
  const o = v as object;
  if (seen.has(o)) return;
  seen.add(o);
  if (util.types.isProxy(o)) throw new NonShelfValue(path, o);
  const proto: unknown = Object.getPrototypeOf(o);
  if (LEAF_PROTOS.has(proto) || dtypeOfTypedArray(o) !== undefined) return;
  if (proto === Object.prototype || proto === null || proto === Array.prototype) {
    for (const k of Object.keys(o)) checkStructured((o as Record<string, unknown>)[k], path + key(k), seen);
    return;
  }
  if (proto === Map.prototype) {
    for (const [k, val] of o as Map<unknown, unknown>) {
      checkStructured(k, `${path}<key>`, seen);
      checkStructured(val, path + key(k), seen);
    }
    return;
  }
  if (proto === Set.prototype) {
    let i = 0;
    for (const val of o as Set<unknown>) checkStructured(val, `${path}<${i++}>`, seen);
    return;
  }
  throw new NonShelfValue(path, o);
}

/** True for the values this codec stores at the top level (objects that no other codec claimed). */
function isStructured(v: unknown): boolean {
  return typeof v === 'object' && v !== null;
}

const serialized = new WeakMap<object, Buffer>();

/** The built-in codec for structured data. */
export const structuredCodec: ShelfCodec<object> = {
  kind: 'v8',
  cache: false,
  test: isStructured,
  plan(v) {
    checkStructured(v);
    let bytes: Buffer;
    try {
      bytes = v8.serialize(v);
    } catch (e) {
      throw new NonShelfValue('', v, (e as Error).message);
    }
    serialized.set(v, bytes);
    return { byteLength: bytes.length, header: { v8: bytes[1], byteLength: bytes.length, crc: crc32c(bytes) } };
  },
  write(v, dest) {
    const bytes = serialized.get(v) ?? v8.serialize(v);
    serialized.delete(v);
    dest.set(bytes);
  },
  read(header, region) {
    const { byteLength, crc } = header;
    if (byteLength !== region.byteLength || typeof crc !== 'number') {
      throw new ShelfError('ESHELF_CORRUPT', `structured value header ${JSON.stringify(header)} does not match its ${region.byteLength}-byte extent`);
    }
    const copy = Buffer.from(region.bytes()); // deserialise from a private copy: nested typed arrays must not alias the shelf
    if (copy.length < 2 || copy[0] !== 0xff || copy[1] > V8_VERSION) {
      throw new ShelfError('ESHELF_CORRUPT', `structured value does not start with a v8 serialisation header (version <= ${V8_VERSION})`);
    }
    if (crc32c(copy) !== crc) throw new ShelfError('ESHELF_CORRUPT', 'structured value fails its CRC32C check');
    try {
      return v8.deserialize(copy) as object;
    } catch (e) {
      throw new ShelfError('ESHELF_CORRUPT', `structured value cannot be deserialised: ${(e as Error).message}`);
    }
  },
};
