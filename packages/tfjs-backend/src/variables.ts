/**
 * Persistent tf.Variables: a variable whose value lives in a shelf entry.
 *
 * On the shelf, a variable is one entry of kind `tfjs.variable`. Its extent holds `buffers` (1 or 2) copies of the
 * value, back to back; the header says which one is committed (`active`):
 *
 *   header = { v: 1, dtype, shape, buffers, active, trainable }
 *   extent = buffer 0 | buffer 1            (each `size * bytesPerElement` bytes)
 *
 * - A *standalone* variable (`s.variable(name, …)`) has one buffer. `assign()` writes the new value into it, in place,
 *   like a write into a shelved ndarray: it survives a process kill and `close()`; make it power-safe with `s.persist()`.
 * - A variable of a *checkpoint group* (`attachModel`) has two. The committed buffer is never written: `assign()` goes to
 *   the other (working) one, and `checkpoint()` persists the working buffers and flips `active` for all of them in one
 *   index batch, so a crash at any instant leaves the last checkpoint whole.
 *
 * Storage, per backend:
 * - *zero-copy* (the `'shelf'` backend, which can adopt shelf memory as tensor storage): the variable's storage IS the
 *   buffer it currently uses; `assign()` copies the new value into shelf memory and keeps the same storage (stock tfjs
 *   would swap the variable's dataId for the new value's).
 * - *mirror* (any other backend, e.g. `'cpu'`, `'wasm'`, `'tensorflow'`): the backend keeps its own storage, as stock
 *   tfjs does, and every `assign()` also writes the value through into the shelf buffer.
 * Either way, when `assign()` returns the new value is in shelf memory.
 *
 * A tensor that aliases a zero-copy variable's storage (a `reshape` or `clone` of it, which share its dataId) sees later
 * in-place assigns. tfjs' own training code never keeps such aliases across an `assign`; take a real copy
 * (`tf.add(v, 0)`) if you need the old value.
 */
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Shelf, ShelfError, internals, type ShelfCodec } from '@tsmm/core';
import { ownerForShelf } from './tensor_codec';

/** Meta kind of a persistent variable entry. */
export const VARIABLE_KIND = 'tfjs.variable';

/** Dtypes a persistent variable can have. */
export type ShelfVariableDtype = 'float32' | 'int32' | 'bool';

const ELEMENT_BYTES: Record<ShelfVariableDtype, number> = { float32: 4, int32: 4, bool: 1 };

/** Meta kind of a slab entry: one extent holding the two buffers of several variables of a checkpoint group. */
export const SLAB_KIND = 'tfjs.slab';

/**
 * A slab is one extent of `2 * half` bytes: buffer 0 of every member in the first half, buffer 1 in the second, each
 * member at the same aligned offset `at` in both halves. The working buffers of a group are then one contiguous run,
 * which a checkpoint persists with one msync run instead of one per variable.
 */
export interface SlabHeader { v: 1; half: number }

/** Alignment of a member inside a slab half, and of the half itself. */
const SLAB_ALIGN = 64;
const SLAB_HALF_ALIGN = 4096;

/**
 * The header stored in the meta of a `tfjs.variable` entry. v 1: the entry's own extent holds the buffers back to back.
 * v 2 (checkpoint-group members in a slab): the entry is meta-only; its buffers are at `at` in each half of the slab
 * entry named `slab`.
 */
export interface VariableHeader {
  v: 1 | 2;
  dtype: ShelfVariableDtype;
  shape: number[];
  buffers: 1 | 2;
  active: number;
  trainable: boolean;
  slab?: string;
  at?: number;
}

/** Where a slab member's buffers are: buffer i at `offset + i * stride` of the pool. */
export interface SlabPlace { slab: string; at: number; stride: number }

type Typed = Float32Array | Int32Array | Uint8Array;

// ---------------------------------------------------------------------------------------------
// small helpers

function isVarDtype(d: unknown): d is ShelfVariableDtype {
  return d === 'float32' || d === 'int32' || d === 'bool';
}

/** Typed array of `dtype` over a whole ArrayBuffer (never a view with an offset: tfjs ignores byteOffset in places). */
export function typedOver(dtype: ShelfVariableDtype, ab: ArrayBuffer): Typed {
  if (dtype === 'float32') return new Float32Array(ab);
  if (dtype === 'int32') return new Int32Array(ab);
  return new Uint8Array(ab);
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function elementBytes(dtype: ShelfVariableDtype): number {
  return ELEMENT_BYTES[dtype];
}

/** A label for messages: `"name" on shelf PATH`. */
export function where(s: Shelf, name: string): string {
  let p = '';
  try {
    p = internals(s).pool.path;
  } catch {
    p = '(closed shelf)';
  }
  return `"${name}" on shelf ${p}`;
}

// ---------------------------------------------------------------------------------------------
// backend capabilities

/**
 * What the 'shelf' backend offers to adopt shelf memory as tensor storage (zero copy): see ShelfBackend.adopt.
 * Duck-typed, so that any backend with the same method is used the same way.
 */
interface AdoptingBackend {
  adopt(values: Typed, shape: number[], dtype: tf.DataType, owner?: unknown): tf.DataId;
}

function adoptingBackend(): AdoptingBackend | null {
  const b = tf.backend() as unknown as Partial<AdoptingBackend>;
  return typeof b.adopt === 'function' ? (b as AdoptingBackend) : null;
}

/** True when the active backend can use shelf memory as tensor storage. */
export function backendIsZeroCopy(): boolean {
  return adoptingBackend() !== null;
}

/**
 * A tensor whose storage is `values` itself (memory of shelf `s`), on a zero-copy backend. The shelf is the owner:
 * while the tensor lives, `s.close()` refuses (ESHELF_BUSY) and `close({force: true})` moves the data to memory first.
 */
export function adoptTensor(values: Typed, shape: number[], dtype: ShelfVariableDtype, s: Shelf): tf.Tensor {
  const b = adoptingBackend();
  if (b === null) throw new Error('The active tfjs backend cannot adopt shelf memory');
  const id = b.adopt(values, shape, dtype, ownerForShelf(s));
  return tf.engine().makeTensorFromDataId(id, shape, dtype, tf.backend());
}

const copyProbe = new WeakMap<object, boolean>();

/**
 * True when `tf.tensor(typedArray)` copies the array into backend storage (tfjs-node, wasm, webgl), false when the
 * backend keeps a reference to the very array (cpu). Probed once per backend instance with a one-element tensor.
 */
export function backendCopiesOnWrite(): boolean {
  const b = tf.backend() as unknown as object;
  let r = copyProbe.get(b);
  if (r === undefined) {
    const probe = new Float32Array([0]);
    const t = tf.tensor1d(probe);
    probe[0] = 1;
    r = t.dataSync()[0] === 0;
    t.dispose();
    copyProbe.set(b, r);
  }
  return r;
}

/**
 * A tensor holding the values of `view` (shelf memory) in the fewest copies the backend allows:
 * adopted (zero copies) when `zeroCopy`, else one copy.
 */
export function tensorFromShelf(view: Typed, shape: number[], dtype: ShelfVariableDtype, s: Shelf, zeroCopy: boolean): tf.Tensor {
  if (zeroCopy) return adoptTensor(view, shape, dtype, s);
  return tf.tensor(backendCopiesOnWrite() ? view : view.slice(), shape, dtype);
}

// ---------------------------------------------------------------------------------------------
// the record behind each persistent variable

const origAssign = tf.Variable.prototype.assign;
const origDispose = tf.Variable.prototype.dispose;

/** The record behind each variable that lives on a shelf. */
const recordOf = new WeakMap<tf.Variable, VarRecord>();

/** Records of each open shelf, by entry name. */
const shelfRecords = new WeakMap<object, Map<string, VarRecord>>();
const hooked = new WeakSet<object>();

/**
 * The identity of an open shelf for bookkeeping: its native pool (a shelf reaches codecs and callers both as its Proxy
 * and as the object behind it; the pool is the same for both).
 */
export function shelfKey(s: Shelf): object {
  return internals(s).pool;
}

const knownShelves = new Map<string, WeakRef<Shelf>>();

/** Remember that `s` is open in this process, so that `shelf://` URLs naming it reuse it (a second open would be ESHELF_LOCKED). */
export function rememberShelf(s: Shelf): void {
  try {
    knownShelves.set(nodePath.resolve(internals(s).pool.path), new WeakRef(s));
  } catch {
    // not a shelf: nothing to remember
  }
}

/** The open shelf at `poolPath` (resolved, without extension) that this package has seen, if any. */
export function knownShelfAt(poolPath: string): Shelf | undefined {
  const s = knownShelves.get(poolPath)?.deref();
  if (s === undefined || s.closed) {
    knownShelves.delete(poolPath);
    return undefined;
  }
  return s;
}

export function recordsOf(s: Shelf): Map<string, VarRecord> {
  const key = shelfKey(s);
  let m = shelfRecords.get(key);
  if (m === undefined) {
    m = new Map();
    shelfRecords.set(key, m);
  }
  if (!hooked.has(key)) {
    hooked.add(key);
    rememberShelf(s);
    internals(s).onClose(({ force }) => releaseShelf(s, force));
  }
  return m;
}

/**
 * One persistent variable: where its buffers are, which one is committed and which one holds the current value.
 * Internal; exported for the checkpoint and attach modules.
 */
export class VarRecord {
  readonly shelf: Shelf;
  readonly name: string;
  readonly dtype: ShelfVariableDtype;
  readonly shape: number[];
  readonly buffers: 1 | 2;
  readonly bufferBytes: number;
  /** Pool offset of buffer 0; buffer i is at `offset + i * stride`. */
  readonly offset: number;
  readonly stride: number;
  /** The slab entry holding the buffers (v 2 layout), or null when the record has its own extent (v 1). */
  readonly slab: string | null;
  readonly at: number;
  trainable: boolean;
  /** Committed buffer, or -1 while the extent is not yet named in the index (it is then put by the next checkpoint). */
  active: number;
  /** Buffer holding the current value. */
  cur: number;
  /** Assigned since the last commit. */
  dirty = false;
  variable: tf.Variable | null = null;
  zeroCopy = false;
  released = false;
  /** The shelf is open read-only: its memory is mapped read-only, so assigns are refused (a write would fault). */
  readonly readOnly: boolean;
  private views_: Typed[] | null = null;
  /** Zero-copy: one adopted tensor per buffer, kept alive by the record (the variable shares one of them). */
  private stores: (tf.Tensor | null)[] = [null, null];
  /** Encoded entry metas with buffer 0 / 1 committed (a checkpoint re-commits the same two), for `trainable` = metaTrainable. */
  private metas: (Uint8Array | null)[] = [null, null];
  private metaTrainable = false;

  constructor(s: Shelf, name: string, h: { dtype: ShelfVariableDtype; shape: number[]; buffers: 1 | 2; trainable: boolean }, offset: number, active: number, place?: SlabPlace) {
    this.shelf = s;
    this.name = name;
    this.dtype = h.dtype;
    this.shape = h.shape.slice();
    this.buffers = h.buffers;
    this.trainable = h.trainable;
    this.bufferBytes = sizeOf(h.shape) * ELEMENT_BYTES[h.dtype];
    this.offset = offset;
    this.stride = place !== undefined ? place.stride : this.bufferBytes;
    this.slab = place !== undefined ? place.slab : null;
    this.at = place !== undefined ? place.at : 0;
    this.active = active;
    this.cur = active < 0 ? 0 : active;
    this.readOnly = s.readOnly;
  }

  /** Length of the entry's own extent (0 for a slab member: its entry is meta-only). */
  get length(): number {
    return this.slab !== null ? 0 : this.bufferBytes * this.buffers;
  }

  get header(): VariableHeader {
    const active = this.active < 0 ? this.cur : this.active;
    if (this.slab !== null) {
      return { v: 2, dtype: this.dtype, shape: this.shape, buffers: this.buffers, active, trainable: this.trainable, slab: this.slab, at: this.at };
    }
    return { v: 1, dtype: this.dtype, shape: this.shape, buffers: this.buffers, active, trainable: this.trainable };
  }

  /** True when the index entry `e` (of this record's name) still names this record's storage. */
  matchesEntry(e: { offset: number; length: number }): boolean {
    if (this.slab === null) return e.offset === this.offset && e.length === this.length;
    if (e.length !== 0) return false;
    const se = internals(this.shelf).pool.get(this.slab);
    return se !== null && se.offset + this.at === this.offset;
  }

  /** The entry meta (core's format, kind `tfjs.variable`) naming buffer `active` as the committed one. */
  metaFor(active: number): Uint8Array {
    if (this.metaTrainable !== this.trainable) {
      this.metas = [null, null];
      this.metaTrainable = this.trainable;
    }
    let m = this.metas[active];
    if (m === null || m === undefined) {
      const h = { ...this.header, active };
      m = internals(this.shelf).encodeMeta(VARIABLE_KIND, h as unknown as Record<string, unknown>);
      this.metas[active] = m;
    }
    return m;
  }

  /** Typed-array views of each buffer (zero copy, shelf memory). Empty arrays for a zero-size variable. */
  views(): Typed[] {
    if (this.views_ === null) {
      const pool = internals(this.shelf).pool;
      const out: Typed[] = [];
      for (let i = 0; i < this.buffers; i++) {
        out.push(this.bufferBytes === 0 ? typedOver(this.dtype, new ArrayBuffer(0)) : typedOver(this.dtype, pool.view(this.offset + i * this.stride, this.bufferBytes)));
      }
      this.views_ = out;
    }
    return this.views_;
  }

  /** The buffer the next assign writes: never the committed one of a two-buffer record. */
  writeTarget(): number {
    if (this.buffers === 1) return 0;
    return this.cur === this.active ? 1 - this.active : this.cur;
  }

  /** Zero-copy: the adopted tensor over buffer `i`. */
  store(i: number): tf.Tensor {
    let t = this.stores[i];
    if (t === null) {
      t = tf.keep(adoptTensor(this.views()[i], this.shape, this.dtype, this.shelf));
      this.stores[i] = t;
    }
    return t;
  }

  /**
   * A tensor with the value of buffer `i`: its storage when zero-copy (owned by the record), else a DRAM copy (the
   * caller disposes it). Decides the record's mode when no variable is bound yet.
   */
  valueOf(i: number): tf.Tensor {
    if (this.variable === null) this.zeroCopy = backendIsZeroCopy() && this.bufferBytes > 0;
    if (this.zeroCopy) return this.store(i);
    return tf.keep(tensorFromShelf(this.views()[i], this.shape, this.dtype, this.shelf, false));
  }

  /** The byte range of the buffer holding the current value: `[offset, offset + length)` of the pool. */
  currentRange(): { offset: number; length: number } {
    return { offset: this.offset + this.cur * this.stride, length: this.bufferBytes };
  }

  /**
   * Bind `v` to this record: from now on its assigns land in shelf memory. `from` says where the value is:
   * `'shelf'` (buffer `cur` holds it: the variable takes it), `'variable'` (the variable holds it: it is copied into
   * buffer `cur`), `'both'` (the variable was just made from `valueOf(cur)`).
   */
  bind(v: tf.Variable, from: 'shelf' | 'variable' | 'both'): void {
    if (v.dtype !== this.dtype || !tf.util.arraysEqual(v.shape, this.shape)) {
      throw new ShelfError('ESHELF_TYPE', `variable ${where(this.shelf, this.name)} is ${this.dtype}[${this.shape}], the tfjs variable "${v.name}" is ${v.dtype}[${v.shape}]`);
    }
    const prev = recordOf.get(v);
    if (prev !== undefined && prev !== this) prev.release(true);
    if (from !== 'both') this.zeroCopy = backendIsZeroCopy() && this.bufferBytes > 0;
    if (from === 'variable') {
      // Never into the committed buffer of a two-buffer record.
      const w = this.writeTarget();
      if (this.bufferBytes > 0) this.views()[w].set(valuesOf(v));
      this.cur = w;
      this.dirty = true;
    }
    if (this.zeroCopy) {
      if (v.dataId !== this.store(this.cur).dataId) origAssign.call(v, this.store(this.cur));
    } else if (from === 'shelf') {
      const t = this.valueOf(this.cur);
      origAssign.call(v, t);
      t.dispose();
    }
    // Adopt every buffer now, so that the tensor count stays flat when assigns move to the other buffer.
    if (this.zeroCopy) for (let i = 0; i < this.buffers; i++) this.store(i);
    this.variable = v;
    recordOf.set(v, this);
    Object.defineProperty(v, 'assign', { value: shelfAssign, configurable: true, writable: true, enumerable: false });
    Object.defineProperty(v, 'dispose', { value: shelfDispose, configurable: true, writable: true, enumerable: false });
  }

  /** Write `value` (same dtype and shape) as the new current value. */
  write(value: tf.Tensor): void {
    if (this.readOnly) {
      throw new ShelfError('ESHELF_READONLY', `variable ${where(this.shelf, this.name)} cannot be assigned: the shelf is open read-only`);
    }
    const w = this.writeTarget();
    const v = this.variable;
    if (this.zeroCopy && v !== null) {
      const target = this.store(w);
      if (value.dataId !== target.dataId) this.views()[w].set(valuesOf(value));
      if (v.dataId !== target.dataId) origAssign.call(v, target);
    } else {
      if (v !== null) origAssign.call(v, value);
      if (this.bufferBytes > 0) this.views()[w].set(valuesOf(value));
    }
    this.cur = w;
    this.dirty = true;
  }

  /** Let go of the bound variable (it keeps its value in backend memory when `keepValue`); the record stays usable. */
  unbind(keepValue: boolean): void {
    const v = this.variable;
    if (v === null) return;
    if (keepValue && this.zeroCopy && !v.isDisposed) {
      const copy = tf.tensor(this.views()[this.cur].slice(), this.shape, this.dtype);
      origAssign.call(v, copy);
      copy.dispose();
    }
    delete (v as { assign?: unknown }).assign;
    delete (v as { dispose?: unknown }).dispose;
    recordOf.delete(v);
    this.variable = null;
  }

  /**
   * Detach the variable from the shelf: it keeps its current value in backend memory and assigns the stock way.
   * `keepValue` false (the variable is being disposed) skips the copy.
   */
  release(keepValue: boolean): void {
    if (this.released) return;
    this.released = true;
    this.unbind(keepValue);
    for (const t of this.stores) if (t !== null && !t.isDisposed) t.dispose();
    this.stores = [null, null];
    this.views_ = null;
    const m = shelfRecords.get(shelfKey(this.shelf));
    if (m !== undefined && m.get(this.name) === this) m.delete(this.name);
  }
}

/**
 * The values of `t`, for an immediate copy: borrowed without a copy when the active backend lends its storage
 * (the 'shelf' backend's `borrowValues`: its dataSync copies pool and shelf memory), else `dataSync()`.
 */
function valuesOf(t: tf.Tensor): Typed {
  const b = tf.backend() as unknown as { borrowValues?: (id: tf.DataId) => unknown; data?: { has(id: tf.DataId): boolean } };
  if (typeof b.borrowValues === 'function' && b.data?.has(t.dataId) === true && t.dtype !== 'complex64') {
    return b.borrowValues(t.dataId) as Typed;
  }
  return t.dataSync() as Typed;
}

function shelfAssign(this: tf.Variable, newValue: tf.Tensor): void {
  const rec = recordOf.get(this);
  if (rec === undefined || rec.released) {
    origAssign.call(this, newValue);
    return;
  }
  // Same checks and messages as tf.Variable.assign.
  if (newValue.dtype !== this.dtype) {
    throw new Error(`dtype of the new value (${newValue.dtype}) and previous value (${this.dtype}) must match`);
  }
  if (!tf.util.arraysEqual(newValue.shape, this.shape)) {
    throw new Error(`shape of the new value (${newValue.shape}) and previous value (${this.shape}) must match`);
  }
  rec.write(newValue);
}

function shelfDispose(this: tf.Variable): void {
  const rec = recordOf.get(this);
  origDispose.call(this);
  if (rec !== undefined) rec.release(false);
}

/** The shelf record of `v`, if it lives on a shelf. */
export function variableRecord(v: tf.Variable): VarRecord | undefined {
  const r = recordOf.get(v);
  return r !== undefined && !r.released ? r : undefined;
}

/** True when `v` is a variable whose storage lives on a shelf. */
export function isShelfVariable(v: unknown): boolean {
  return v instanceof tf.Tensor && recordOf.has(v as tf.Variable) && !recordOf.get(v as tf.Variable)!.released;
}

/**
 * Called at the start of `close()`: zero-copy variables are shelf-backed tensors, so a plain close refuses while any is
 * alive (`ESHELF_BUSY`); `force` first moves their values to backend memory. Mirror-mode variables simply detach.
 */
const releaseListeners = new WeakMap<object, Set<() => void>>();

/** Call `fn` when the shelf's variables are released at close (after the busy check passed). Returns an unsubscribe. */
export function onRelease(s: Shelf, fn: () => void): () => void {
  recordsOf(s);
  let set = releaseListeners.get(shelfKey(s));
  if (set === undefined) {
    set = new Set();
    releaseListeners.set(shelfKey(s), set);
  }
  set.add(fn);
  return () => set!.delete(fn);
}

function releaseShelf(s: Shelf, force: boolean): void {
  const m = shelfRecords.get(shelfKey(s));
  if (m === undefined) return;
  if (!force) {
    const busy = [...m.values()].filter((r) => r.zeroCopy && r.variable !== null && !r.variable.isDisposed);
    if (busy.length > 0) {
      const names = busy.slice(0, 5).map((r) => `"${r.name}"`).join(', ');
      throw new ShelfError('ESHELF_BUSY', `shelf ${internals(s).pool.path} has ${busy.length} live variable(s) stored in it (${names}${busy.length > 5 ? ', …' : ''}): dispose or detach them, or close({ force: true }) to move them to memory`);
    }
  }
  const listeners = releaseListeners.get(shelfKey(s));
  if (listeners !== undefined) for (const fn of [...listeners]) fn();
  for (const r of [...m.values()]) r.release(true);
  m.clear();
}

// ---------------------------------------------------------------------------------------------
// reading and creating entries

/** Decode and check the header of a `tfjs.variable` entry. */
export function parseVariableHeader(s: Shelf, name: string, header: Record<string, unknown>): VariableHeader {
  const h = header as Partial<VariableHeader>;
  const slabOk = h.v === 1 || (h.v === 2 && h.buffers === 2 && typeof h.slab === 'string' && h.slab.length > 0 && Number.isSafeInteger(h.at) && h.at! >= 0);
  const ok = slabOk && isVarDtype(h.dtype) && Array.isArray(h.shape) && h.shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
    (h.buffers === 1 || h.buffers === 2) && Number.isInteger(h.active) && h.active! >= 0 && h.active! < h.buffers! && typeof h.trainable === 'boolean';
  if (!ok) throw new ShelfError('ESHELF_CORRUPT', `variable ${where(s, name)} has an invalid header ${JSON.stringify(header)}`);
  return h as VariableHeader;
}

/** The record of the committed entry `name` (kind `tfjs.variable`), or null when there is none. */
export function openRecord(s: Shelf, name: string): VarRecord | null {
  const inner = internals(s);
  const e = inner.pool.get(name);
  if (e === null) return null;
  const { kind, header } = inner.decodeMeta(e.meta);
  if (kind !== VARIABLE_KIND) {
    throw new ShelfError('ESHELF_TYPE', `${where(s, name)} is a ${kind} entry, not a persistent tfjs variable`);
  }
  const h = parseVariableHeader(s, name, header);
  if (h.v === 2) {
    const place = slabPlace(s, name, h);
    if (e.length !== 0) throw new ShelfError('ESHELF_CORRUPT', `variable ${where(s, name)}: a slab member must be meta-only, its extent is ${e.length} bytes`);
    return new VarRecord(s, name, h, place.offset, h.active, place);
  }
  const rec = new VarRecord(s, name, h, e.offset, h.active);
  if (rec.length !== e.length) {
    throw new ShelfError('ESHELF_CORRUPT', `variable ${where(s, name)}: extent is ${e.length} bytes, ${h.dtype}[${h.shape}] × ${h.buffers} needs ${rec.length}`);
  }
  return rec;
}

/** Decode and check the header of a `tfjs.slab` entry. */
export function readSlab(s: Shelf, slab: string): { offset: number; half: number } | null {
  const inner = internals(s);
  const e = inner.pool.get(slab);
  if (e === null) return null;
  const { kind, header } = inner.decodeMeta(e.meta);
  const h = header as Partial<SlabHeader>;
  if (kind !== SLAB_KIND || h.v !== 1 || !Number.isSafeInteger(h.half) || h.half! < 0 || e.length !== 2 * h.half!) {
    throw new ShelfError('ESHELF_CORRUPT', `slab ${where(s, slab)} is not a valid ${SLAB_KIND} entry`);
  }
  return { offset: e.offset, half: h.half! };
}

/** Where the buffers of the v 2 variable `name` (header `h`) are. */
function slabPlace(s: Shelf, name: string, h: VariableHeader): SlabPlace & { offset: number } {
  const sl = readSlab(s, h.slab!);
  if (sl === null) throw new ShelfError('ESHELF_CORRUPT', `variable ${where(s, name)}: its slab "${h.slab}" is missing`);
  const bytes = sizeOf(h.shape) * ELEMENT_BYTES[h.dtype];
  if (h.at! + bytes > sl.half) {
    throw new ShelfError('ESHELF_CORRUPT', `variable ${where(s, name)}: ${h.dtype}[${h.shape}] at ${h.at} does not fit its slab half of ${sl.half} bytes`);
  }
  return { slab: h.slab!, at: h.at!, stride: sl.half, offset: sl.offset + h.at! };
}

/** The index op that names slab `slab` (`2 * half` bytes at `offset`). */
export function slabPutOp(s: Shelf, slab: string, offset: number, half: number): { type: 'put'; name: string; offset: number; length: number; meta: Uint8Array } {
  return { type: 'put', name: slab, offset, length: 2 * half, meta: internals(s).encodeMeta(SLAB_KIND, { v: 1, half } as unknown as Record<string, unknown>) };
}

/**
 * Allocate a slab named `slab` for two-buffer members `specs` and return it with a record per member (buffer 0 zeroed
 * as the pool gives it; the caller binds each record). Not yet named in the index: the caller commits `slabPutOp` with
 * the members' `putOp`s in one batch, or releases `offset`.
 */
export function allocSlab(s: Shelf, slab: string, specs: { name: string; dtype: ShelfVariableDtype; shape: number[]; trainable: boolean }[]): { offset: number; half: number; records: VarRecord[] } {
  const ats: number[] = [];
  let half = 0;
  for (const sp of specs) {
    ats.push(half);
    const bytes = sizeOf(sp.shape) * ELEMENT_BYTES[sp.dtype];
    half += Math.ceil(bytes / SLAB_ALIGN) * SLAB_ALIGN;
  }
  half = Math.max(SLAB_HALF_ALIGN, Math.ceil(half / SLAB_HALF_ALIGN) * SLAB_HALF_ALIGN);
  const offset = internals(s).pool.alloc(2 * half);
  const records = specs.map((sp, i) => new VarRecord(s, sp.name, { dtype: sp.dtype, shape: sp.shape, buffers: 2, trainable: sp.trainable }, offset + ats[i], -1,
    { slab, at: ats[i], stride: half }));
  return { offset, half, records };
}

/**
 * A new record with a freshly allocated extent holding `values` in buffer 0. Not yet named in the index:
 * the caller commits `putOp(rec)` (alone, or inside a checkpoint batch).
 */
export function allocRecord(s: Shelf, name: string, dtype: ShelfVariableDtype, shape: number[], buffers: 1 | 2, trainable: boolean, values: Typed | null): VarRecord {
  const pool = internals(s).pool;
  const bytes = sizeOf(shape) * ELEMENT_BYTES[dtype] * buffers;
  const offset = bytes === 0 ? 0 : pool.alloc(bytes);
  const rec = new VarRecord(s, name, { dtype, shape, buffers, trainable }, offset, -1);
  if (values !== null && rec.bufferBytes > 0) rec.views()[0].set(values);
  return rec;
}

/** The index op that names `rec`'s extent with its current buffer as the committed one. */
export function putOp(rec: VarRecord): { type: 'put'; name: string; offset: number; length: number; meta: Uint8Array } {
  if (rec.slab !== null) return { type: 'put', name: rec.name, offset: 0, length: 0, meta: rec.metaFor(rec.cur) };
  return { type: 'put', name: rec.name, offset: rec.offset, length: rec.length, meta: rec.metaFor(rec.cur) };
}

const persistMethods = new WeakMap<object, string>();

/**
 * Make byte ranges of the pool durable with as few persist calls as possible. On a file system every persist is an
 * `msync` whose cost is the flush it triggers (about 5 ms even for clean pages on an ordinary disk), while the clean
 * pages it walks cost next to nothing: one call covers the hull of all ranges. On DAX every cache line is flushed
 * one by one, so there only ranges closer than `maxGap` bytes are merged. Returns the number of persist calls made.
 */
export function persistRanges(s: Shelf, ranges: { offset: number; length: number }[], maxGap = 4096): number {
  const rs = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  if (rs.length === 0) return 0;
  const pool = internals(s).pool;
  let method = persistMethods.get(pool);
  if (method === undefined) {
    method = pool.stats().persistMethod; // fixed at open (the medium decides it): ask once
    persistMethods.set(pool, method);
  }
  const gap = method === 'msync' || method === 'fence' ? Infinity : maxGap;
  let calls = 0;
  let i = 0;
  while (i < rs.length) {
    const start = rs[i].offset;
    let end = start + rs[i].length;
    let j = i + 1;
    while (j < rs.length && rs[j].offset - end <= gap) {
      end = Math.max(end, rs[j].offset + rs[j].length);
      j++;
    }
    pool.persist(start, end - start);
    calls++;
    i = j;
  }
  return calls;
}

/** After `putOp(rec)` was committed: the current buffer is now the committed one. */
export function markCommitted(rec: VarRecord): void {
  rec.active = rec.cur;
  rec.dirty = false;
}

// ---------------------------------------------------------------------------------------------
// codec registration on first use

let registrar: (() => void) | null = null;

/** Internal: io/codecs.ts hands over the function that registers the codecs of the entries written here. */
export function setCodecRegistrar(fn: () => void): void {
  registrar = fn;
}

/**
 * Register, once, the codecs that let core read what variables, checkpoints and the shelf:// handler write
 * (`s.name` of such an entry). Called by every entry point; the package root also calls it at import.
 */
export function useCodecs(): void {
  if (registrar !== null) registrar();
}

// ---------------------------------------------------------------------------------------------
// s.variable(name, initialValue?, trainable?)

function uniqueVariableName(base: string): string {
  const reg = tf.engine().registeredVariables;
  if (reg[base] === undefined) return base;
  for (let i = 1; ; i++) if (reg[`${base}_${i}`] === undefined) return `${base}_${i}`;
}

function checkInitial(s: Shelf, name: string, v: unknown): tf.Tensor {
  if (!(v instanceof tf.Tensor)) {
    throw new TypeError(`Expected the initial value of variable ${where(s, name)} to be a tf.Tensor`);
  }
  if (!isVarDtype(v.dtype)) {
    throw new ShelfError('ESHELF_TYPE', `variable ${where(s, name)}: dtype ${v.dtype} is not supported (float32, int32 or bool)`);
  }
  return v;
}

/**
 * The persistent variable `name` of shelf `s`: created from `initialValue` when the shelf has no such entry, else the
 * stored one with its last value (`initialValue` is then ignored, but must match in dtype and shape when given).
 * Calling it again in the same process returns the same tf.Variable.
 *
 * Errors: `ESHELF_NOT_FOUND` (no entry and no initial value), `ESHELF_TYPE` (the entry is not a standalone variable, or
 * dtype/shape mismatch), TypeError (bad arguments), plus the shelf's own (`ESHELF_CLOSED`, `ESHELF_FULL`, `ESHELF_NAME`, …).
 */
export function shelfVariable(s: Shelf, name: string, initialValue?: tf.Tensor, trainable?: boolean): tf.Variable {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('Expected the variable name to be a non-empty string');
  if (trainable !== undefined && typeof trainable !== 'boolean') throw new TypeError('Expected "trainable" to be a boolean');
  if (name.startsWith('.')) throw new ShelfError('ESHELF_NAME', `variable name "${name}" is reserved: names starting with "." are internal`);
  if (name in Shelf.prototype) {
    throw new ShelfError('ESHELF_NAME', `"${name}" is a member of Shelf and cannot be used as a variable name`);
  }
  const init = initialValue === undefined ? undefined : checkInitial(s, name, initialValue);
  useCodecs();
  const inner = internals(s);
  const records = recordsOf(s);
  const live = records.get(name);
  if (live !== undefined && live.variable !== null && !live.variable.isDisposed) {
    const e = inner.pool.get(name);
    if (e !== null && live.matchesEntry(e) && live.active >= 0) {
      if (init !== undefined) checkSame(s, name, live, init);
      return live.variable;
    }
    live.release(true); // the entry was erased or replaced behind our back
  }
  let rec = openRecord(s, name);
  if (rec !== null) {
    if (rec.buffers !== 1) {
      throw new ShelfError('ESHELF_TYPE', `${where(s, name)} belongs to a checkpoint group (attachModel); it is not a standalone variable`);
    }
    if (init !== undefined) checkSame(s, name, rec, init);
  } else {
    if (init === undefined) {
      throw new ShelfError('ESHELF_NOT_FOUND', `no variable ${where(s, name)}, and no initial value to create it`);
    }
    rec = allocRecord(s, name, init.dtype as ShelfVariableDtype, init.shape.slice(), 1, trainable ?? true, init.dataSync() as Typed);
    try {
      inner.commit([putOp(rec)]);
    } catch (e) {
      if (rec.bufferBytes > 0) inner.pool.release(rec.offset);
      throw e;
    }
    markCommitted(rec);
  }
  const seed = rec.valueOf(rec.cur);
  const v = tf.variable(seed, rec.trainable, uniqueVariableName(name), rec.dtype);
  if (!rec.zeroCopy) seed.dispose();
  records.set(name, rec);
  rec.bind(v, 'both');
  return v;
}

function checkSame(s: Shelf, name: string, rec: VarRecord, init: tf.Tensor): void {
  if (init.dtype !== rec.dtype || !tf.util.arraysEqual(init.shape, rec.shape)) {
    throw new ShelfError('ESHELF_TYPE', `variable ${where(s, name)} is ${rec.dtype}[${rec.shape}], the initial value is ${init.dtype}[${init.shape}]`);
  }
}

declare module '@tsmm/core' {
  interface Shelf {
    /**
     * A tf.Variable whose storage is on this shelf (see {@link shelfVariable}). Created from `initialValue` the first
     * time; afterwards, in this or any later process, returned with its last value. `assign()` writes into shelf memory.
     */
    variable(name: string, initialValue?: tf.Tensor, trainable?: boolean): tf.Variable;
  }
}

if (!Object.prototype.hasOwnProperty.call(Shelf.prototype, 'variable')) {
  Object.defineProperty(Shelf.prototype, 'variable', {
    value: function variable(this: Shelf, name: string, initialValue?: tf.Tensor, trainable?: boolean): tf.Variable {
      return shelfVariable(this, name, initialValue, trainable);
    },
    configurable: true,
    writable: true,
    enumerable: false,
  });
}

// ---------------------------------------------------------------------------------------------
// the codec: what core's `s.name` returns for a `tfjs.variable` entry

/**
 * Codec of kind `tfjs.variable`, so that `s.name` works for persistent variables: a standalone variable reads as the
 * live tf.Variable (the same one `s.variable(name)` returns); a member of a checkpoint group reads as a tensor holding
 * its last checkpointed value (a copy: the buffer is reused by later checkpoints). Never chosen to store a value:
 * variables are created with `s.variable()` (`s.x = someVariable` stores a plain tensor copy).
 */
export const variableCodec: ShelfCodec<tf.Tensor> = {
  kind: VARIABLE_KIND,
  cache: false,
  test: () => false,
  plan(): never {
    throw new TypeError('Persistent variables are created with s.variable(name, initialValue)');
  },
  write(): never {
    throw new TypeError('Persistent variables are created with s.variable(name, initialValue)');
  },
  read(header, region, ctx) {
    const h = parseVariableHeader(ctx.shelf, ctx.name, header);
    if (h.buffers === 1) return shelfVariable(ctx.shelf, ctx.name);
    const bytes = sizeOf(h.shape) * ELEMENT_BYTES[h.dtype];
    if (h.v === 2) {
      const place = slabPlace(ctx.shelf, ctx.name, h);
      const copy = bytes === 0 ? new Uint8Array(0) : new Uint8Array(internals(ctx.shelf).pool.view(place.offset + h.active * place.stride, bytes)).slice();
      return tf.tensor(typedOver(h.dtype, copy.buffer), h.shape, h.dtype);
    }
    const all = region.bytes();
    const copy = all.slice(h.active * bytes, (h.active + 1) * bytes);
    return tf.tensor(typedOver(h.dtype, copy.buffer), h.shape, h.dtype);
  },
};
