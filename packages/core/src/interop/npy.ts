/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), written from and read onto shelves.
 *
 * The format (numpy.lib.format):
 * ```
 * offset 0   6 bytes   magic "\x93NUMPY"
 *        6   1 byte    major version (1, 2 or 3)
 *        7   1 byte    minor version (0)
 *        8   2 bytes   HEADER_LEN, little-endian uint16      (version 1.0)
 *            4 bytes   HEADER_LEN, little-endian uint32      (versions 2.0 and 3.0)
 *   8+2|4    HEADER_LEN bytes: a Python dict literal, ASCII (3.0: UTF-8), e.g.
 *            {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
 *            padded with spaces and ended by '\n' so that the data starts at a multiple of 64
 *   then     the elements, in C order (fortran_order False) or Fortran order (True), in the byte order of 'descr'
 * ```
 * `descr` here is one of `|i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 <f4 <f8 |b1` (`>` big-endian and `=` native are read too;
 * big-endian data is byte-swapped on import). Object (`|O`, pickled), structured, complex and float16 arrays are
 * `ESHELF_TYPE`: tsmm never unpickles anything.
 *
 * Writing uses version 1.0 unless the header needs more than 65535 bytes (then 2.0), as numpy does, and writes straight
 * from shelf memory (no copy) for arrays stored in C or F order. Reading creates an `ndarray` variable whose extent is
 * filled by `fs.readSync` directly (no intermediate buffer) and committed atomically.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { ShelfError } from '@tsmm/native';
import type { DType } from '../dtypes';
import type { Shelf } from '../shelf';
import {
  arraySource, checkLittleEndian, checkOptions, coreOf, importArrays, IMPORT_OPTIONS, ITEM_SIZE, openInput, product,
  rawPieces, cOrderPieces, readExact, writeAll, writeFileAtomic,
  type ExportOptions, type ImportOptions, type InteropDType,
} from './common';

/** The `.npy` magic string. */
export const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** The data of a `.npy` file starts at a multiple of this. */
export const NPY_ALIGN = 64;

/** `descr` written for each dtype (little-endian; `|` for one-byte types). */
export const NPY_DESCR: Readonly<Record<InteropDType, string>> = Object.freeze({
  int8: '|i1', int16: '<i2', int32: '<i4', int64: '<i8',
  uint8: '|u1', uint8_clamped: '|u1', uint16: '<u2', uint32: '<u4', uint64: '<u8',
  float32: '<f4', float64: '<f8', bool: '|b1',
});

const FROM_CODE: Readonly<Record<string, DType>> = {
  i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64', u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64',
  f4: 'float32', f8: 'float64', b1: 'uint8',
};

/** A parsed `.npy` header. */
export interface NpyHeader {
  /** Format version: `[major, minor]`. */
  version: [number, number];
  /** The `descr` string as written, e.g. `'<f8'`. */
  descr: string;
  /** The shelf dtype the data becomes (`bool` arrays become `uint8`). */
  dtype: DType;
  /** True when `descr` says big-endian (the data is byte-swapped on import). */
  bigEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the first element in the file. */
  dataOffset: number;
  /** Bytes of data the header describes. */
  byteLength: number;
}

// ---- writing ----

function pyTuple(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * The header of a `.npy` file (magic, version, length, dict, padding) for an array of `dtype` and `shape`, byte for byte
 * as numpy 1.x writes it before its growth-space change (numpy >= 1.23 also adds spaces so a header can be rewritten in
 * place; both are valid): keys in sorted order, `", }"` ending, spaces then `'\n'` up to the next multiple of 64
 * (always at least one space). Version 1.0 when the header fits 65535 bytes, else 2.0.
 */
export function npyHeader(dtype: InteropDType, shape: readonly number[], fortranOrder = false): Buffer {
  if (!Object.prototype.hasOwnProperty.call(NPY_DESCR, dtype)) throw new TypeError(`Unknown dtype ${JSON.stringify(dtype)}`);
  for (const n of shape) if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`Expected the shape to hold non-negative integers, got ${JSON.stringify(shape)}`);
  const dict = `{'descr': '${NPY_DESCR[dtype]}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${pyTuple(shape)}, }`;
  for (const [major, lenBytes] of [[1, 2], [2, 4]] as const) {
    const prefix = NPY_MAGIC.length + 2 + lenBytes;
    const hlen = dict.length + 1; // + '\n'
    const pad = NPY_ALIGN - ((prefix + hlen) % NPY_ALIGN);
    const headerLen = hlen + pad;
    if (lenBytes === 2 && headerLen > 0xffff) continue;
    const out = Buffer.alloc(prefix + headerLen, 0x20);
    NPY_MAGIC.copy(out, 0);
    out[6] = major;
    out[7] = 0;
    if (lenBytes === 2) out.writeUInt16LE(headerLen, 8);
    else out.writeUInt32LE(headerLen, 8);
    out.write(dict, prefix, 'latin1');
    out[out.length - 1] = 0x0a;
    return out;
  }
  throw new RangeError('npy header too large'); // unreachable: a uint32 length always fits
}

/** Result of an export. */
export interface ExportResult {
  /** The file written (absolute path). */
  file: string;
  /** Variables written, in file order. */
  names: string[];
  /** Bytes of the file. */
  bytes: number;
}

/**
 * Write the array `name` of shelf `s` to `file` as a `.npy` file (NumPy: `numpy.load(file)`). C-order arrays are written
 * with `fortran_order: False`, F-order arrays with `True`, both straight from shelf memory; other layouts are re-ordered to C
 * block by block. The file appears atomically (written beside it, fsync'd, renamed).
 *
 * Errors: `ESHELF_NOT_FOUND` (no such variable), `ESHELF_TYPE` (not an array: ndarrays, typed arrays, Buffers and
 * float32/int32/bool tensors export), `ESHELF_IO` (naming the file), `ESHELF_CLOSED`.
 *
 * @example exportNpy(s, 'x', 'x.npy');   // python: numpy.load('x.npy')
 */
export function exportNpy(s: Shelf, name: string, file: string, options?: ExportOptions): ExportResult {
  const o = checkOptions<ExportOptions>(options, ['onProgress'], 'exportNpy');
  checkLittleEndian();
  if (typeof name !== 'string') throw new TypeError('Expected the variable name to be a string');
  const src = arraySource(coreOf(s), name);
  const fortran = src.order === 'F' && src.shape.length > 1;
  const header = npyHeader(src.dtype, src.shape, fortran);
  const total = src.byteLength;
  let done = 0;
  writeFileAtomic(file, (fd) => {
    writeAll(fd, header);
    o.onProgress?.(0, total);
    for (const piece of fortran ? rawPieces(src) : cOrderPieces(src)) {
      writeAll(fd, piece);
      done += piece.byteLength;
      o.onProgress?.(done, total);
    }
  });
  return { file: path.resolve(file), names: [name], bytes: header.length + total };
}

// ---- reading ----

type PyValue = string | boolean | null | number | PyValue[] | { [k: string]: PyValue } | { tuple: PyValue[] };

/** Parse the Python literal of a `.npy` header: a dict of strings, booleans, None, integers, tuples and lists. */
function parsePyLiteral(text: string, file: string): PyValue {
  let i = 0;
  const fail = (why: string): never => {
    throw new ShelfError('ESHELF_CORRUPT', `${file} is not a valid .npy file: ${why} at character ${i} of its header ${JSON.stringify(text.trim())}`);
  };
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, PyValue> = Object.create(null);
      for (;;) {
        ws();
        if (text[i] === '}') { i++; return obj; }
        const k = value();
        if (typeof k !== 'string') fail('a dict key is not a string');
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        if (Object.prototype.hasOwnProperty.call(obj, k as string)) fail(`duplicate key '${String(k)}'`);
        obj[k as string] = value();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail('expected "," or "}"');
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) { i++; break; }
        items.push(value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === close) { i++; break; }
        fail(`expected "," or "${close}"`);
      }
      return c === '(' ? { tuple: items } : items;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const str = text.slice(i + 1, end);
      if (str.includes('\\')) fail('escapes in strings are not supported');
      i = end + 1;
      return str;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i));
    if (m === null) return fail('unexpected token');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number.parseInt(m[0], 10);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

/**
 * Parse the header of a `.npy` file from its first bytes (at least up to the end of the header). ESHELF_CORRUPT, naming
 * `file`, when the bytes are not a `.npy` header; ESHELF_TYPE for element types tsmm does not store.
 */
export function parseNpyHeader(bytes: Uint8Array, file = 'the data'): NpyHeader {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (why: string): never => {
    throw new ShelfError('ESHELF_CORRUPT', `${file} is not a valid .npy file: ${why}`);
  };
  if (b.length < 10 || !b.subarray(0, 6).equals(NPY_MAGIC)) corrupt('it does not start with the magic "\\x93NUMPY"');
  const major = b[6];
  const minor = b[7];
  if (major < 1 || major > 3 || minor !== 0) corrupt(`unknown format version ${major}.${minor} (known: 1.0, 2.0, 3.0)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (b.length < 8 + lenBytes) corrupt('it ends inside the header length');
  const headerLen = lenBytes === 2 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const dataOffset = 8 + lenBytes + headerLen;
  if (b.length < dataOffset) corrupt(`the header is ${headerLen} bytes but only ${b.length - 8 - lenBytes} follow`);
  const text = b.subarray(8 + lenBytes, dataOffset).toString(major === 3 ? 'utf8' : 'latin1');
  const d = parsePyLiteral(text, file);
  if (d === null || typeof d !== 'object' || Array.isArray(d) || 'tuple' in d) return corrupt('the header is not a dict');
  const dict = d as Record<string, PyValue>;
  const keys = Object.keys(dict).sort().join(',');
  if (keys !== 'descr,fortran_order,shape') corrupt(`the header has keys ${keys}, expected descr, fortran_order, shape`);
  const { descr, fortran_order: fortranOrder, shape: shapeV } = dict;
  if (typeof fortranOrder !== 'boolean') corrupt('fortran_order is not True or False');
  if (shapeV === null || typeof shapeV !== 'object' || !('tuple' in shapeV)) return corrupt('shape is not a tuple');
  const shape = (shapeV as { tuple: PyValue[] }).tuple;
  if (!shape.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) corrupt(`shape ${text.match(/'shape':\s*(\([^)]*\))/)?.[1] ?? ''} holds something other than non-negative integers`);
  if (typeof descr !== 'string') {
    throw new ShelfError('ESHELF_TYPE', `${file} holds a structured array (descr is not a string): tsmm stores plain arrays only`);
  }
  const m = /^([<>|=]?)([a-zA-Z]\d*)$/.exec(descr);
  const code = m?.[2];
  const dtype = code !== undefined ? FROM_CODE[code] : undefined;
  if (m === null || dtype === undefined) {
    const why = descr.includes('O') ? 'object arrays are pickled and tsmm never unpickles' : 'no shelf dtype stores it';
    throw new ShelfError('ESHELF_TYPE', `${file} holds elements of type '${descr}', which tsmm cannot import (${why}); ` +
      'supported: int8..int64, uint8..uint64, float32, float64, bool');
  }
  const bigEndian = m[1] === '>';
  const size = product(shape as number[]) * ITEM_SIZE[dtype];
  if (!Number.isSafeInteger(size)) corrupt(`shape (${shape.join(', ')}) is too large`);
  return {
    version: [major, minor], descr, dtype, bigEndian, fortranOrder: fortranOrder as boolean, shape: shape as number[],
    dataOffset, byteLength: size,
  };
}

/** Read the header of the `.npy` file `file` (ESHELF_NOT_FOUND, ESHELF_CORRUPT, ESHELF_TYPE, ESHELF_IO). */
export function readNpyHeader(file: string): NpyHeader {
  const { fd, size } = openInput(file);
  try {
    return headerOf(fd, size, file);
  } finally {
    fs.closeSync(fd);
  }
}

function headerOf(fd: number, size: number, file: string): NpyHeader {
  if (size < 10) throw new ShelfError('ESHELF_CORRUPT', `${file} is not a valid .npy file: it is only ${size} bytes`);
  const head = readExact(fd, file, 0, Math.min(size, 12), 'the .npy preamble');
  let total = 10;
  if (head.subarray(0, 6).equals(NPY_MAGIC)) {
    total = head[6] === 1 ? 10 + head.readUInt16LE(8) : head.length >= 12 ? 12 + head.readUInt32LE(8) : 12;
  }
  const h = parseNpyHeader(readExact(fd, file, 0, Math.min(size, total), 'the .npy header'), file);
  if (size < h.dataOffset + h.byteLength) {
    throw new ShelfError('ESHELF_CORRUPT', `${file} is truncated: its header describes ${h.byteLength} bytes of data ` +
      `but ${size - h.dataOffset} follow it`);
  }
  return h;
}

/** Result of importing a `.npy` file. */
export interface NpyImportResult {
  /** The variable created. */
  name: string;
  dtype: DType;
  shape: number[];
  order: 'C' | 'F';
  /** Bytes of data read onto the shelf. */
  bytes: number;
  /** The `descr` of the file. */
  descr: string;
}

/**
 * Create variable `name` (default: the file name without `.npy`) on shelf `s` from the `.npy` file `file`, as a shelved
 * ndarray of the file's dtype, shape and order (`fortran_order: True` -> order `'F'`; bool -> uint8). The data is read with
 * `fs.readSync` straight into the new extent and committed atomically (or at the end of an open transaction).
 *
 * Errors: `ESHELF_NOT_FOUND` (no file), `ESHELF_CORRUPT` (not a .npy file, or truncated; the message says what is wrong),
 * `ESHELF_TYPE` (object/structured/complex/float16 data), `ESHELF_EXISTS` (name taken, without `replace`), `ESHELF_NAME`,
 * `ESHELF_FULL`, `ESHELF_READONLY`, `ESHELF_IO`.
 *
 * @example const { name } = importNpy('weights.npy', s);  s.weights.shape;  // numpy.save('weights.npy', w)
 */
export function importNpy(file: string, s: Shelf, name?: string, options?: ImportOptions): NpyImportResult {
  const o = checkOptions<ImportOptions>(options, IMPORT_OPTIONS, 'importNpy');
  checkLittleEndian();
  coreOf(s).checkOpen();
  const varName = name ?? path.basename(file).replace(/\.npy$/i, '');
  const { fd, size } = openInput(file);
  try {
    const h = headerOf(fd, size, file);
    const order: 'C' | 'F' = h.fortranOrder && h.shape.length > 1 ? 'F' : 'C';
    importArrays(s, fd, file, [{ name: varName, dtype: h.dtype, shape: h.shape, order, position: h.dataOffset, swap: h.bigEndian }], o);
    return { name: varName, dtype: h.dtype, shape: h.shape, order, bytes: h.byteLength, descr: h.descr };
  } finally {
    fs.closeSync(fd);
  }
}
