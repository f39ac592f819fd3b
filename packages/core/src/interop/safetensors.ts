/**
 * safetensors files (huggingface/safetensors), written from and read onto shelves.
 *
 * The format:
 * ```
 * offset 0    8 bytes   N: little-endian uint64, the length of the header
 *        8    N bytes   the header: UTF-8 JSON object, starting with '{', possibly padded with spaces (0x20) at the end;
 *                       each key is a tensor name mapped to {"dtype": D, "shape": [..], "data_offsets": [BEGIN, END]},
 *                       plus an optional "__metadata__" object of string to string
 *        8+N  ...       the byte buffer: every tensor's elements, little-endian, row-major (C order)
 * ```
 * `data_offsets` are relative to the start of the byte buffer (the byte after the header), END − BEGIN is exactly
 * elements × item size, the tensors tile the buffer with no holes and no overlap, and the buffer ends where the file ends.
 * Duplicate keys are not allowed; the header is at most 100,000,000 bytes. dtypes here: F64 F32 I64 I32 I16 I8 U64 U32
 * U16 U8 BOOL (F16, BF16 and F8 are `ESHELF_TYPE` on import: no shelf dtype holds them).
 *
 * Writing follows the reference implementation: tensors ordered by item size (largest first, so each is naturally
 * aligned) then by name, `__metadata__` first in the JSON, compact JSON padded with spaces so the buffer starts at a
 * multiple of 8. Every tensor is written straight from shelf memory when it is stored in C order.
 * Reading creates one `ndarray` variable per tensor (`prefix + tensor name`), each extent filled by `fs.readSync` directly,
 * all committed in one atomic batch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShelfError } from '@tsmm/native';
import type { DType } from '../dtypes';
import type { Shelf } from '../shelf';
import {
  arraySource, checkLittleEndian, checkOptions, coreOf, cOrderPieces, importArrays, IMPORT_OPTIONS, ITEM_SIZE, openInput,
  product, readExact, selectArrays, writeAll, writeFileAtomic,
  type ArraySource, type ExportOptions, type ImportOptions, type InteropDType,
} from './common';
import type { ExportResult } from './npy';

/** Largest header accepted (as the reference implementation). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/** The safetensors dtype of each interop dtype. */
export const SAFETENSORS_DTYPE: Readonly<Record<InteropDType, string>> = Object.freeze({
  float64: 'F64', float32: 'F32', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8',
  uint64: 'U64', uint32: 'U32', uint16: 'U16', uint8: 'U8', uint8_clamped: 'U8', bool: 'BOOL',
});

const FROM_ST: Readonly<Record<string, DType>> = {
  F64: 'float64', F32: 'float32', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8',
  U64: 'uint64', U32: 'uint32', U16: 'uint16', U8: 'uint8', BOOL: 'uint8',
};
const OTHER_ST: Readonly<Record<string, number>> = { F16: 2, BF16: 2, F8_E5M2: 1, F8_E4M3: 1 };

/** One tensor of a safetensors header. */
export interface SafetensorsTensor {
  name: string;
  /** The safetensors dtype string (`F32`, `BOOL`, ...). */
  dtype: string;
  shape: number[];
  /** `[BEGIN, END)` relative to the byte buffer. */
  dataOffsets: [number, number];
}

/** A parsed safetensors header. */
export interface SafetensorsHeader {
  /** Tensors in order of their data. */
  tensors: SafetensorsTensor[];
  /** The `__metadata__` map, or undefined. */
  metadata: Record<string, string> | undefined;
  /** Byte offset of the byte buffer in the file (8 + N). */
  dataStart: number;
  /** Bytes of the byte buffer. */
  dataBytes: number;
}

/** The item size of a safetensors dtype string, or undefined for unknown ones. */
function stItemSize(dtype: string): number | undefined {
  const d = FROM_ST[dtype];
  if (d !== undefined) return dtype === 'BOOL' ? 1 : ITEM_SIZE[d];
  return OTHER_ST[dtype];
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The first `8 + N` bytes of a safetensors file holding `tensors` (given as name, dtype, shape; their offsets are
 * assigned here in the writing order: item size descending, then name), with `metadata` as `__metadata__`.
 * Returns the bytes and the tensors in data order with their offsets.
 */
export function safetensorsHeader(
  tensors: ReadonlyArray<{ name: string; dtype: InteropDType; shape: readonly number[] }>,
  metadata?: Record<string, string>,
): { bytes: Buffer; tensors: SafetensorsTensor[] } {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name.length === 0) throw new TypeError('Expected every tensor name to be a non-empty string');
    if (t.name === '__metadata__') throw new ShelfError('ESHELF_NAME', 'a tensor cannot be named "__metadata__" in a safetensors file');
    if (seen.has(t.name)) throw new ShelfError('ESHELF_EXISTS', `two tensors named '${t.name}'`);
    seen.add(t.name);
    if (!Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE, t.dtype)) throw new TypeError(`Unknown dtype ${JSON.stringify(t.dtype)}`);
  }
  const ordered = tensors.slice().sort((a, b) => ITEM_SIZE[b.dtype] - ITEM_SIZE[a.dtype] || byteCompare(a.name, b.name));
  const out: SafetensorsTensor[] = [];
  const json: Array<[string, unknown]> = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new TypeError('Expected the metadata to be an object of strings');
    const m: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort(byteCompare)) {
      if (typeof metadata[k] !== 'string') throw new TypeError(`Expected metadata value "${k}" to be a string (safetensors metadata maps strings to strings)`);
      m[k] = metadata[k];
    }
    json.push(['__metadata__', m]);
  }
  let at = 0;
  for (const t of ordered) {
    const len = product(t.shape) * ITEM_SIZE[t.dtype];
    const rec: SafetensorsTensor = { name: t.name, dtype: SAFETENSORS_DTYPE[t.dtype], shape: t.shape.slice(), dataOffsets: [at, at + len] };
    out.push(rec);
    json.push([t.name, { dtype: rec.dtype, shape: rec.shape, data_offsets: rec.dataOffsets }]);
    at += len;
  }
  // JSON.stringify puts integer-like keys ("0", "12") first whatever the insertion order; build the text by hand instead.
  const parts = json.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const body = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const pad = (8 - (body.length % 8)) % 8;
  const bytes = Buffer.alloc(8 + body.length + pad, 0x20);
  bytes.writeBigUInt64LE(BigInt(body.length + pad), 0);
  body.copy(bytes, 8);
  return { bytes, tensors: out };
}

/** Options of {@link exportSafetensors}. */
export interface SafetensorsExportOptions extends ExportOptions {
  /** `__metadata__` of the file (strings only). */
  metadata?: Record<string, string>;
  /** Tensor name for each variable (default: the variable name). E.g. `(n) => n.slice('model/'.length)`. */
  rename?: (name: string) => string;
}

/**
 * Write arrays of shelf `s` to `file` as safetensors (Python: `safetensors.safe_open(file, 'np')`, or
 * `safetensors.numpy.load_file`). `selection` is a variable name, a prefix (every array entry whose name starts with it;
 * other values under it are skipped and listed in `skipped`), or an array of names. Tensor names are the variable names
 * (or `options.rename(name)`). The file appears atomically.
 *
 * Errors: `ESHELF_NOT_FOUND` (nothing selected), `ESHELF_TYPE` (a named variable is not an array), `ESHELF_IO`,
 * `ESHELF_CLOSED`; TypeError for non-string metadata values.
 *
 * @example exportSafetensors(s, 'model/', 'model.safetensors', { rename: (n) => n.slice(6) });
 */
export function exportSafetensors(
  s: Shelf, selection: string | readonly string[], file: string, options?: SafetensorsExportOptions,
): ExportResult & { skipped: string[] } {
  const o = checkOptions<SafetensorsExportOptions>(options, ['onProgress', 'metadata', 'rename'], 'exportSafetensors');
  if (o.rename !== undefined && typeof o.rename !== 'function') throw new TypeError('Expected the "rename" option to be a function');
  checkLittleEndian();
  const core = coreOf(s);
  const { names, skipped } = selectArrays(core, selection);
  const sources = new Map<string, ArraySource>();
  for (const n of names) {
    const src = arraySource(core, n);
    const tname = o.rename !== undefined ? o.rename(n) : n;
    if (sources.has(tname)) throw new ShelfError('ESHELF_EXISTS', `two variables would both be tensor '${tname}' in ${file}`);
    sources.set(tname, src);
  }
  const { bytes: header, tensors } = safetensorsHeader(
    [...sources].map(([name, src]) => ({ name, dtype: src.dtype, shape: src.shape })), o.metadata);
  const total = tensors.reduce((n, t) => n + t.dataOffsets[1] - t.dataOffsets[0], 0);
  let done = 0;
  writeFileAtomic(file, (fd) => {
    writeAll(fd, header);
    o.onProgress?.(0, total);
    for (const t of tensors) {
      for (const piece of cOrderPieces(sources.get(t.name)!)) {
        writeAll(fd, piece);
        done += piece.byteLength;
        o.onProgress?.(done, total);
      }
    }
  });
  return { file: path.resolve(file), names: tensors.map((t) => sources.get(t.name)!.name), bytes: header.length + total, skipped };
}

/** Names of the keys of the top-level JSON object in `text`, in order (to find duplicates, which JSON.parse hides). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const str = text.slice(i, j + 1);
      i = j + 1;
      if (depth === 1) {
        let k = i;
        while (k < text.length && /\s/.test(text[k])) k++;
        if (text[k] === ':') keys.push(JSON.parse(str) as string);
      }
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return keys;
}

/**
 * Parse and validate a safetensors header (`headerBytes` = the N bytes after the length) for a file of `fileSize` bytes.
 * ESHELF_CORRUPT, naming `file` and the tensor, for anything the format forbids: bad JSON, a missing or malformed field,
 * offsets that do not match the shape, holes or overlaps, a buffer that does not end where the file does, duplicate keys.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, file = 'the data'): SafetensorsHeader {
  const corrupt = (why: string): never => {
    throw new ShelfError('ESHELF_CORRUPT', `${file} is not a valid safetensors file: ${why}`);
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return corrupt('the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) corrupt('the header does not start with "{"');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return corrupt(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return corrupt('the header is not a JSON object');
  const keys = topLevelKeys(text);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) corrupt(`the header names '${dup}' twice`);
  const obj = parsed as Record<string, unknown>;
  let metadata: Record<string, string> | undefined;
  const tensors: SafetensorsTensor[] = [];
  for (const [name, v] of Object.entries(obj)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
        corrupt('__metadata__ is not an object of strings');
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t === null || typeof t !== 'object' || Array.isArray(t)) return corrupt(`tensor '${name}' is not an object`);
    if (typeof t.dtype !== 'string') corrupt(`tensor '${name}' has no dtype`);
    if (!Array.isArray(t.shape) || !t.shape.every((n) => Number.isSafeInteger(n) && n >= 0)) corrupt(`tensor '${name}' has no valid shape`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      corrupt(`tensor '${name}' has no valid data_offsets`);
    }
    tensors.push({ name, dtype: t.dtype as string, shape: (t.shape as number[]).slice(), dataOffsets: [(off as number[])[0], (off as number[])[1]] });
  }
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let at = 0;
  for (const t of tensors) {
    const [begin, end] = t.dataOffsets;
    if (begin !== at || end < begin) {
      corrupt(`tensor '${t.name}' has data_offsets [${begin}, ${end}], expected it to start at ${at} (no holes, no overlaps)`);
    }
    const item = stItemSize(t.dtype);
    if (item !== undefined) {
      const want = product(t.shape) * item;
      if (end - begin !== want) {
        corrupt(`tensor '${t.name}' (${t.dtype} [${t.shape.join(', ')}]) needs ${want} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
      }
    }
    at = end;
  }
  const dataStart = 8 + headerBytes.byteLength;
  if (dataStart + at !== fileSize) {
    corrupt(`the tensors cover ${at} bytes of data but ${fileSize - dataStart} follow the header`);
  }
  return { tensors, metadata, dataStart, dataBytes: at };
}

function headerOf(fd: number, size: number, file: string): SafetensorsHeader {
  if (size < 8) throw new ShelfError('ESHELF_CORRUPT', `${file} is not a valid safetensors file: it is only ${size} bytes`);
  const n = readExact(fd, file, 0, 8, 'the header length').readBigUInt64LE(0);
  if (n > BigInt(SAFETENSORS_MAX_HEADER)) {
    throw new ShelfError('ESHELF_CORRUPT', `${file} is not a valid safetensors file: its header length ${n} is more than ${SAFETENSORS_MAX_HEADER} bytes`);
  }
  if (n > BigInt(size - 8)) {
    throw new ShelfError('ESHELF_CORRUPT', `${file} is not a valid safetensors file: its header length ${n} exceeds the ${size - 8} bytes that follow`);
  }
  return parseSafetensorsHeader(readExact(fd, file, 8, Number(n), 'the safetensors header'), size, file);
}

/** Read the header of the safetensors file `file` (ESHELF_NOT_FOUND, ESHELF_CORRUPT, ESHELF_IO). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const { fd, size } = openInput(file);
  try {
    return headerOf(fd, size, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Result of importing a safetensors file. */
export interface SafetensorsImportResult {
  /** Variables created, in the file's data order. */
  names: string[];
  /** Bytes of data read onto the shelf. */
  bytes: number;
  /** The file's `__metadata__` (not stored on the shelf). */
  metadata: Record<string, string> | undefined;
}

/**
 * Create one ndarray variable per tensor of the safetensors file `file` on shelf `s`, named `prefix + tensor name`
 * (prefix default `''`), with the tensor's dtype (BOOL -> uint8) and shape, in C order. Each extent is filled by
 * `fs.readSync` straight from the file, and all of them are committed in one atomic batch: a crash or an error leaves none.
 *
 * Errors: `ESHELF_NOT_FOUND` (no file), `ESHELF_CORRUPT` (the message says what breaks the format), `ESHELF_TYPE`
 * (F16/BF16/F8 tensors), `ESHELF_EXISTS` (a name is taken, without `replace`), `ESHELF_NAME` (a tensor name that cannot be
 * a variable name, e.g. starting with "."), `ESHELF_FULL`, `ESHELF_READONLY`, `ESHELF_IO`.
 *
 * @example importSafetensors('model.safetensors', s, 'model/');  s['model/dense.weight'].shape;
 */
export function importSafetensors(file: string, s: Shelf, prefix = '', options?: ImportOptions): SafetensorsImportResult {
  const o = checkOptions<ImportOptions>(options, IMPORT_OPTIONS, 'importSafetensors');
  if (typeof prefix !== 'string') throw new TypeError('Expected the prefix to be a string');
  checkLittleEndian();
  coreOf(s).checkOpen();
  const { fd, size } = openInput(file);
  try {
    const h = headerOf(fd, size, file);
    const plans = h.tensors.map((t) => {
      const dtype = FROM_ST[t.dtype];
      if (dtype === undefined) {
        throw new ShelfError('ESHELF_TYPE', `tensor '${t.name}' of ${file} is ${t.dtype}, which no shelf dtype holds ` +
          '(supported: F64 F32 I64 I32 I16 I8 U64 U32 U16 U8 BOOL)');
      }
      return { name: prefix + t.name, dtype, shape: t.shape, order: 'C' as const, position: h.dataStart + t.dataOffsets[0], swap: false };
    });
    importArrays(s, fd, file, plans, o);
    return { names: plans.map((p) => p.name), bytes: h.dataBytes, metadata: h.metadata };
  } finally {
    fs.closeSync(fd);
  }
}
