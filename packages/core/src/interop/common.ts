/**
 * What the `.npy` and safetensors modules share: which shelf entries are arrays (and how their bytes are laid out), writing
 * a file from shelf memory without copies, and reading a file straight into a new shelf extent.
 *
 * Exportable entries: `ndarray` (any dtype, C or F order; other layouts are re-ordered block by block), typed arrays,
 * `Buffer`/`ArrayBuffer`/`DataView` (as uint8), and the float32/int32/bool values of @tsmm/tfjs-backend — tensors
 * (`tfjs.tensor`), persistent variables and checkpointed weights (`tfjs.variable`: the committed buffer) and weights saved
 * with `shelf://` (`tfjs.weight`) — read from the raw entry, so tfjs need not be loaded. Everything else is `ESHELF_TYPE`.
 *
 * Imports create `ndarray` entries, allocated, filled by `fs.readSync` straight into shelf memory (no intermediate buffer),
 * and committed in one atomic batch per file: a crash during an import leaves nothing of it on the shelf.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import scijs = require('ndarray');
import ops = require('ndarray-ops');
import { MAX_VIEW_BYTES, ShelfError } from '@tsmm/native';
import { ChunkedData } from '../chunked';
import { stridesOf } from '../codecs/ndarray';
import { DTYPE_CTORS, DTYPES, type DType, type TypedArray } from '../dtypes';
import { decodeMeta, encodeMeta } from '../meta';
import { checkVariableName } from '../names';
import { PoolRegion } from '../region';
import { coreOf, type Shelf } from '../shelf';
import type { ShelfCore, Staged } from '../store';

/** Element types the interop formats carry: the shelf dtypes, plus `bool` (tfjs bool tensors; one byte, 0 or 1). */
export type InteropDType = DType | 'bool';

/** Bytes per element of each interop dtype. */
export const ITEM_SIZE: Readonly<Record<InteropDType, number>> = Object.freeze({
  int8: 1, uint8: 1, uint8_clamped: 1, bool: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4,
  int64: 8, uint64: 8, float64: 8,
});

/** Called as bytes move: `done` of `total` bytes of the whole operation. */
export type ProgressCallback = (done: number, total: number) => void;

/** An array entry of a shelf, as the exporters see it. */
export interface ArraySource {
  /** Variable name. */
  readonly name: string;
  /** Entry kind (`ndarray`, `typed`, `bytes`, `tfjs.tensor`). */
  readonly kind: string;
  readonly dtype: InteropDType;
  readonly shape: number[];
  /** Element strides of the stored layout. */
  readonly stride: number[];
  /** 'C' (row-major), 'F' (column-major) or 'K' (another dense layout). */
  readonly order: 'C' | 'F' | 'K';
  /** Bytes of data (elements × item size). */
  readonly byteLength: number;
  /** Zero-copy windows of the extent (at most 4 GiB each), valid until the shelf closes. */
  windows(): Uint8Array[];
}

/** The kinds {@link arraySource} accepts. */
export const ARRAY_KINDS: readonly string[] = ['ndarray', 'typed', 'bytes', 'tfjs.tensor', 'tfjs.variable', 'tfjs.weight'];

const TENSOR_DTYPES: Readonly<Record<string, InteropDType>> = { float32: 'float32', int32: 'int32', bool: 'bool' };

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((n) => Number.isSafeInteger(n) && n >= 0);
}

/** Throw unless this machine stores numbers little-endian (the formats and the shelf both use the machine's order). */
export function checkLittleEndian(): void {
  if (os.endianness() !== 'LE') throw new ShelfError('ESHELF_TYPE', 'tsmm interop needs a little-endian machine');
}

/**
 * The array stored as `name` on the shelf of `core`, or a ShelfError: `ESHELF_NOT_FOUND` when absent, `ESHELF_TYPE` when
 * its kind is not an array (the message says what it is and what exports), `ESHELF_CORRUPT` when its header does not
 * match its extent.
 */
export function arraySource(core: ShelfCore, name: string): ArraySource {
  core.checkOpen();
  const e = core.entry(name);
  if (e === null) throw new ShelfError('ESHELF_NOT_FOUND', `no variable '${name}' on shelf '${core.name}'`);
  const { kind, header: h } = decodeMeta(e.meta, `'${name}'`);
  let dtype: InteropDType | undefined;
  let shape: number[] | undefined;
  let stride: number[] | undefined;
  let order: 'C' | 'F' | 'K' = 'C';
  if (kind === 'ndarray') {
    if (typeof h.dtype === 'string' && (DTYPES as readonly string[]).includes(h.dtype)) dtype = h.dtype as DType;
    if (isShape(h.shape)) shape = h.shape.slice();
    if (isShape(h.stride)) stride = h.stride.slice();
    order = h.order === 'F' ? 'F' : h.order === 'K' ? 'K' : 'C';
  } else if (kind === 'typed') {
    dtype = DTYPES.find((d) => DTYPE_CTORS[d].name === h.type);
    if (typeof h.length === 'number') shape = [h.length];
  } else if (kind === 'bytes') {
    dtype = 'uint8';
    shape = [e.length];
  } else if (kind === 'tfjs.tensor' || kind === 'tfjs.variable' || kind === 'tfjs.weight') {
    // Raw layouts written by @tsmm/tfjs-backend (read here without loading tfjs): a tensor's extent holds its values; a
    // variable's holds `buffers` copies back to back, of which `active` is the committed one; a saved weight's `spec` is
    // a tfjs WeightsManifestEntry (plain, unquantized float32/int32/bool weights only).
    const spec = kind === 'tfjs.weight' ? (h.spec ?? {}) as Record<string, unknown> : h;
    dtype = typeof spec.dtype === 'string' ? TENSOR_DTYPES[spec.dtype] : undefined;
    if (isShape(spec.shape)) shape = spec.shape.slice();
    if (dtype === undefined || spec.quantization != null) {
      throw new ShelfError('ESHELF_TYPE', `'${name}' is a ${String(spec.dtype)}${spec.quantization != null ? ' quantized' : ''} ${kind.slice(5)}: ` +
        'only float32, int32 and bool tfjs values export');
    }
    if (kind === 'tfjs.variable' && shape !== undefined && h.v === 2) {
      // a checkpoint-group member in a slab: buffer i at `at` of half i of the slab entry (header {half})
      const each = product(shape) * ITEM_SIZE[dtype];
      const active = h.active === 1 ? 1 : 0;
      const slab = typeof h.slab === 'string' ? core.pool.get(h.slab) : null;
      const sh = slab !== null ? decodeMeta(slab.meta, `'${String(h.slab)}'`) : null;
      const half = sh !== null && sh.kind === 'tfjs.slab' && typeof sh.header.half === 'number' ? sh.header.half : -1;
      const at = typeof h.at === 'number' ? h.at : -1;
      if (slab === null || half < 0 || at < 0 || at + each > half || 2 * half > slab.length) {
        throw new ShelfError('ESHELF_CORRUPT', `'${name}' names slab '${String(h.slab)}' at ${String(h.at)}, which does not hold its ${each} bytes`);
      }
      const region = new PoolRegion(core.pool, slab.offset + active * half + at, each);
      return { name, kind, dtype, shape, stride: stridesOf(shape, 'C'), order: 'C', byteLength: each, windows: () => region.windows() };
    }
    if (kind === 'tfjs.variable' && shape !== undefined) {
      const buffers = h.buffers === 2 ? 2 : 1;
      const active = h.active === 1 && buffers === 2 ? 1 : 0;
      const each = product(shape) * ITEM_SIZE[dtype];
      if (each * buffers !== e.length) {
        throw new ShelfError('ESHELF_CORRUPT', `the header of '${name}' describes ${buffers} × ${each} bytes but its extent is ${e.length} bytes`);
      }
      const region = new PoolRegion(core.pool, e.offset + active * each, each);
      return { name, kind, dtype, shape, stride: stridesOf(shape, 'C'), order: 'C', byteLength: each, windows: () => region.windows() };
    }
  } else {
    const what = kind === 'tree' ? 'a saved structure (export its prefix instead)' : `of kind '${kind}'`;
    throw new ShelfError('ESHELF_TYPE', `'${name}' is ${what}, not an array: only ndarrays, typed arrays, ` +
      'Buffers and float32/int32/bool tensors export');
  }
  if (dtype === undefined || shape === undefined) {
    throw new ShelfError('ESHELF_CORRUPT', `the ${kind} header of '${name}' is malformed: ${JSON.stringify(h)}`);
  }
  const bytes = product(shape) * ITEM_SIZE[dtype];
  if (bytes !== e.length) {
    throw new ShelfError('ESHELF_CORRUPT', `the header of '${name}' describes ${bytes} bytes but its extent is ${e.length} bytes`);
  }
  if (stride === undefined || stride.length !== shape.length) stride = stridesOf(shape, 'C');
  if (order === 'C' && !sameLayout(shape, stride, stridesOf(shape, 'C'))) order = 'K';
  if (order === 'F' && !sameLayout(shape, stride, stridesOf(shape, 'F'))) order = 'K';
  const region = new PoolRegion(core.pool, e.offset, e.length);
  return { name, kind, dtype, shape, stride, order, byteLength: bytes, windows: () => region.windows() };
}

function sameLayout(shape: readonly number[], a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < shape.length; i++) if (shape[i] > 1 && a[i] !== b[i]) return false;
  return true;
}

/** The names a selection means: an existing non-structure variable `sel` itself, else every array entry under prefix `sel`. */
export function selectArrays(core: ShelfCore, sel: string | readonly string[]): { names: string[]; skipped: string[] } {
  core.checkOpen();
  if (Array.isArray(sel)) return { names: sel.slice(), skipped: [] };
  if (typeof sel !== 'string') throw new TypeError('Expected a variable name, a prefix or an array of names');
  const exact = sel === '' ? null : core.entry(sel as string);
  if (exact !== null && decodeMeta(exact.meta, `'${String(sel)}'`).kind !== 'tree') return { names: [sel as string], skipped: [] };
  const names: string[] = [];
  const skipped: string[] = [];
  for (const n of core.userNames(sel as string)) {
    const kind = decodeMeta(core.entry(n)!.meta, `'${n}'`).kind;
    if (ARRAY_KINDS.includes(kind)) names.push(n);
    else if (n !== sel) skipped.push(n);
  }
  if (names.length === 0) {
    throw new ShelfError('ESHELF_NOT_FOUND', `no array named '${String(sel)}' or under that prefix on shelf '${core.name}'` +
      (skipped.length > 0 ? ` (only non-array values: ${skipped.join(', ')})` : ''));
  }
  return { names, skipped };
}

/** Bytes per progress step. */
export const STEP = 16 * 2 ** 20;

/** A scijs view over the source's data (typed array, or ChunkedData beyond 4 GiB). bool is viewed as uint8. */
function sourceView(src: ArraySource): scijs.NdArray<any> {
  const dt: DType = src.dtype === 'bool' ? 'uint8' : src.dtype;
  const wins = src.windows();
  const Ctor = DTYPE_CTORS[dt];
  let data: TypedArray | ChunkedData;
  if (src.byteLength === 0) data = new Ctor(0);
  else if (src.byteLength <= MAX_VIEW_BYTES) data = new Ctor(wins[0].buffer, wins[0].byteOffset, wins[0].byteLength / Ctor.BYTES_PER_ELEMENT);
  else data = new ChunkedData(dt, wins);
  return scijs(data as any, src.shape.slice(), src.stride.slice(), 0);
}

/**
 * The bytes of `src` in row-major (C) order, in pieces of about {@link STEP} bytes. Zero copy when the array is stored in C
 * order (the pieces are views of shelf memory); otherwise each piece is a C-order block of rows re-ordered in DRAM.
 */
export function* cOrderPieces(src: ArraySource): Generator<Uint8Array> {
  if (src.order === 'C' || src.shape.length <= 1 || product(src.shape) === 0) {
    yield* rawPieces(src);
    return;
  }
  const dt: DType = src.dtype === 'bool' ? 'uint8' : src.dtype;
  const Ctor = DTYPE_CTORS[dt];
  const view = sourceView(src);
  const rowElems = product(src.shape.slice(1));
  const rowBytes = rowElems * Ctor.BYTES_PER_ELEMENT;
  const rowsPer = Math.max(1, Math.floor(STEP / Math.max(1, rowBytes)));
  for (let r = 0; r < src.shape[0]; r += rowsPer) {
    const k = Math.min(rowsPer, src.shape[0] - r);
    const block = new Ctor(k * rowElems);
    const dest = scijs(block as any, [k, ...src.shape.slice(1)]);
    ops.assign(dest, view.hi(r + k).lo(r));
    yield new Uint8Array(block.buffer, block.byteOffset, block.byteLength);
  }
}

/** The stored bytes of `src`, in pieces of at most {@link STEP} bytes (views of shelf memory, zero copy). */
export function* rawPieces(src: ArraySource): Generator<Uint8Array> {
  for (const w of src.windows()) {
    for (let at = 0; at < w.byteLength; at += STEP) yield w.subarray(at, Math.min(w.byteLength, at + STEP));
  }
}

/** Write all of `bytes` to `fd` (looping over short writes). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.byteLength) at += fs.writeSync(fd, bytes, at, bytes.byteLength - at);
}

/**
 * Create `file` atomically: `fill(fd)` writes a temporary file beside it, which is fsync'd and renamed over `file` (so a
 * reader never sees half a file, and a crash leaves the old file or none). ESHELF_IO names the path on failure.
 */
export function writeFileAtomic(file: string, fill: (fd: number) => void): void {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError('Expected the output file to be a non-empty string');
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tsmm-${process.pid}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w', 0o644);
  } catch (e) {
    throw ioError(e, `cannot create ${file}`);
  }
  try {
    fill(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, abs);
    syncDir(path.dirname(abs));
  } catch (e) {
    if (fd >= 0) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* may not exist */ }
    throw e instanceof ShelfError || e instanceof TypeError || e instanceof RangeError ? e : ioError(e, `cannot write ${file}`);
  }
}

function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on directories; the rename is still atomic
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** An OS failure as ESHELF_IO, with errno/syscall/path. */
export function ioError(e: unknown, context: string): ShelfError {
  const err = e as NodeJS.ErrnoException;
  return new ShelfError('ESHELF_IO', `${context}: ${err?.message ?? String(e)}`, { errno: err?.code, syscall: err?.syscall, path: err?.path });
}

/** Open `file` for reading: its fd and size. ESHELF_NOT_FOUND when missing, ESHELF_IO otherwise. */
export function openInput(file: string): { fd: number; size: number } {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError('Expected the input file to be a non-empty string');
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ShelfError('ESHELF_NOT_FOUND', `no file ${file}`, { errno: 'ENOENT', path: file });
    throw ioError(e, `cannot open ${file}`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new ShelfError('ESHELF_IO', `${file} is not a regular file`, { path: file });
  }
  return { fd, size: st.size };
}

/** Read exactly `length` bytes at `position` into a new buffer (ESHELF_CORRUPT naming `file` if it ends first). */
export function readExact(fd: number, file: string, position: number, length: number, what: string): Buffer {
  const buf = Buffer.alloc(length);
  readInto(fd, file, buf, position, what);
  return buf;
}

/** Fill `dest` from `fd` at `position`, looping over short reads (ESHELF_CORRUPT naming `file` if it ends first). */
export function readInto(fd: number, file: string, dest: Uint8Array, position: number, what: string): void {
  let at = 0;
  while (at < dest.byteLength) {
    const n = fs.readSync(fd, dest, at, dest.byteLength - at, position + at);
    if (n === 0) throw new ShelfError('ESHELF_CORRUPT', `${file} ends inside ${what} (${at} of ${dest.byteLength} bytes at offset ${position})`);
    at += n;
  }
}

/** Reverse the byte order of each `size`-byte element of `b` in place (for big-endian input). */
export function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (size === 2) buf.swap16();
  else if (size === 4) buf.swap32();
  else buf.swap64();
}

/** An array to create on the shelf from a file. */
export interface ImportPlan {
  name: string;
  dtype: DType;
  shape: number[];
  order: 'C' | 'F';
  /** Byte position of the data in the file. */
  position: number;
  /** Swap bytes (big-endian input). */
  swap: boolean;
}

/** Options of the importers. */
export interface ImportOptions {
  /** Replace variables that already exist (crash-atomically), instead of failing with ESHELF_EXISTS. Default false. */
  replace?: boolean;
  /** Progress callback (bytes read of the bytes to read). */
  onProgress?: ProgressCallback;
}

/** Options of the exporters. */
export interface ExportOptions {
  /** Progress callback (bytes written of the bytes to write). */
  onProgress?: ProgressCallback;
}

const IMPORT_OPTIONS = ['replace', 'onProgress'];

/** Validate exporter/importer options (unknown options are a TypeError naming them). */
export function checkOptions<T extends object>(options: unknown, known: readonly string[], what: string): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`Expected the ${what} options to be an object`);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new TypeError(`Unknown option "${k}" of ${what} (expected one of: ${known.join(', ')})`);
  }
  const o = options as Record<string, unknown>;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('Expected the "onProgress" option to be a function');
  if (o.replace !== undefined && typeof o.replace !== 'boolean') throw new TypeError('Expected the "replace" option to be a boolean');
  return options as T;
}

export { IMPORT_OPTIONS };

/**
 * Create the arrays `plans` on shelf `s` from `fd`, reading each straight into its new extent, and commit them in one
 * atomic batch (deferred to the end of an open transaction, like any put). Names are checked first; existing names are
 * ESHELF_EXISTS unless `options.replace`. Nothing stays allocated when this throws.
 */
export function importArrays(s: Shelf, fd: number, file: string, plans: ImportPlan[], options: ImportOptions): void {
  const core = coreOf(s);
  const seen = new Set<string>();
  for (const p of plans) {
    checkVariableName(p.name, core.memberProto);
    core.checkWritable(`import '${p.name}'`);
    if (seen.has(p.name)) throw new ShelfError('ESHELF_EXISTS', `${file} holds '${p.name}' twice`);
    seen.add(p.name);
    if (options.replace !== true && core.entry(p.name) !== null) {
      throw new ShelfError('ESHELF_EXISTS', `'${p.name}' is already on shelf '${core.name}' and cannot be implicitly overwritten: ` +
        `erase('${p.name}') it first, or import with replace`);
    }
  }
  const total = plans.reduce((n, p) => n + product(p.shape) * DTYPE_CTORS[p.dtype].BYTES_PER_ELEMENT, 0);
  let done = 0;
  options.onProgress?.(0, total);
  const staged: Staged[] = [];
  try {
    for (const p of plans) {
      const bpe = DTYPE_CTORS[p.dtype].BYTES_PER_ELEMENT;
      const len = product(p.shape) * bpe;
      const stride = stridesOf(p.shape, p.order).map((n) => Math.max(1, n));
      const meta = encodeMeta('ndarray', { dtype: p.dtype, shape: p.shape, stride, order: p.order });
      if (len === 0) {
        staged.push({ op: { type: 'put', name: p.name, offset: 0, length: 0, meta }, alloc: null });
        continue;
      }
      let offset: number;
      try {
        offset = core.pool.alloc(len);
      } catch (e) {
        if (e instanceof ShelfError) throw new ShelfError(e.code, `cannot import '${p.name}' (${len} bytes) onto shelf '${core.name}': ${e.message}`);
        throw e;
      }
      staged.push({ op: { type: 'put', name: p.name, offset, length: len, meta }, alloc: offset });
      let at = 0;
      for (const w of new PoolRegion(core.pool, offset, len).windows()) {
        for (let o = 0; o < w.byteLength; o += STEP) {
          const piece = w.subarray(o, Math.min(w.byteLength, o + STEP));
          readInto(fd, file, piece, p.position + at, `the data of '${p.name}'`);
          if (p.swap) swapBytes(piece, bpe);
          at += piece.byteLength;
          done += piece.byteLength;
          options.onProgress?.(done, total);
        }
      }
    }
    for (const p of plans) {
      const e = core.entry(p.name);
      if (e !== null && decodeMeta(e.meta, `'${p.name}'`).kind === 'tree') staged.push(...core.treeLeafErases(p.name));
    }
  } catch (e) {
    core.release(staged.map((x) => x.alloc));
    throw e;
  }
  core.apply(staged);
}

export { coreOf, product };
