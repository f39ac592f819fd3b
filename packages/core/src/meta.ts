/**
 * The entry meta format of @tsmm/core (version 1).
 *
 * Every entry the shelf commits carries a small meta blob: UTF-8 JSON of the object
 * `{"tsmm":1,"kind":KIND,"header":HEADER}`. `kind` names the codec that wrote the entry
 * (`ndarray`, `typed`, `bytes`, `scalar`, `v8`, `tree`, `tx.undo`, `tx.active`, or a registered kind such as
 * `tfjs.tensor`); `header` is the codec's JSON-serialisable description (dtype, shape, stride, ...).
 * The extent itself holds only raw data. The blob is at most {@link MAX_META_BYTES}.
 */
import { MAX_META_BYTES, ShelfError } from '@tsmm/native';

/** The meta format version written by this build. */
export const META_VERSION = 1;

/** Encode `kind` and `header` as an entry meta blob. Throws RangeError when it exceeds 1 MiB, TypeError when not JSON-able. */
export function encodeMeta(kind: string, header: Record<string, unknown>): Uint8Array {
  if (typeof kind !== 'string' || kind.length === 0) throw new TypeError('Expected the meta kind to be a non-empty string');
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new TypeError(`Expected the header of kind "${kind}" to be a plain object`);
  }
  let json: string;
  try {
    json = JSON.stringify({ tsmm: META_VERSION, kind, header });
  } catch (e) {
    throw new TypeError(`The header of kind "${kind}" is not JSON-serialisable: ${(e as Error).message}`);
  }
  const bytes = Buffer.from(json, 'utf8');
  if (bytes.length > MAX_META_BYTES) {
    throw new RangeError(`The header of kind "${kind}" is ${bytes.length} bytes, more than the ${MAX_META_BYTES}-byte meta limit`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Decode a meta blob written by {@link encodeMeta}. A blob that is not valid UTF-8 JSON of that shape, or of a newer
 * version, is `ESHELF_CORRUPT` (the message names `what`, e.g. the variable).
 */
export function decodeMeta(meta: Uint8Array, what = 'entry'): { kind: string; header: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength).toString('utf8'));
  } catch {
    throw new ShelfError('ESHELF_CORRUPT', `meta of ${what} is not valid JSON (${meta.byteLength} bytes)`);
  }
  if (parsed === null || typeof parsed !== 'object') {
    throw new ShelfError('ESHELF_CORRUPT', `meta of ${what} is not a tsmm meta record`);
  }
  const rec = parsed as { tsmm?: unknown; kind?: unknown; header?: unknown };
  if (rec.tsmm !== META_VERSION) {
    throw new ShelfError('ESHELF_CORRUPT', `meta of ${what} has format version ${JSON.stringify(rec.tsmm)}, this build reads version ${META_VERSION}`);
  }
  if (typeof rec.kind !== 'string' || rec.kind.length === 0 || rec.header === null || typeof rec.header !== 'object' || Array.isArray(rec.header)) {
    throw new ShelfError('ESHELF_CORRUPT', `meta of ${what} lacks a kind or header`);
  }
  return { kind: rec.kind, header: rec.header as Record<string, unknown> };
}
