/**
 * Crash-atomic training checkpoints of variables attached to a shelf.
 *
 * A *checkpoint group* is a set of tf.Variables (a model's weights) plus the state of one optimizer, kept under an
 * entry-name prefix `P` of a shelf:
 *
 *   P/state              meta-only entry (kind `tfjs.checkpoint`): step, extra, optimizer iterations, the list of members
 *   P/var/<i>            the i-th variable (kind `tfjs.variable`, two buffers)
 *   P/opt/<field>/<i>    the optimizer's slot variables, by the optimizer field that holds them (e.g. `accumulatedFirstMoment/3`)
 *   P/opt/<field>        the optimizer's scalar variables (e.g. Adam's `accBeta1`, `accBeta2`: stored, never recomputed)
 *   P/slab/<n>           slabs (kind `tfjs.slab`): the buffers of the members created together (the model's variables
 *                        at the first attach; each batch of optimizer variables as they appear), buffer 0 of all of
 *                        them in the first half, buffer 1 in the second, so that the working buffers are one
 *                        contiguous run. Members in a slab have meta-only entries (header v 2: slab name, offset).
 *                        Groups written before slabs have one extent per member (header v 1); both are read.
 *
 * Every variable has two buffers. The committed one is never written; updates go to the other (working) one.
 * `checkpoint()` persists the working buffers, then commits ONE index batch that flips every updated variable to its
 * working buffer and replaces `P/state`. A crash at any instant leaves either the previous or the new checkpoint, whole.
 * Members created since the last checkpoint (optimizer slots appear at the first training step) live in uncommitted
 * extents until that batch names them; the engine reclaims them if the process dies first.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Shelf, ShelfError, internals, type ShelfCodec } from '@tsmm/core';
import {
  VarRecord, allocSlab, markCommitted, readSlab, slabPutOp, onRelease, openRecord, persistRanges, putOp, recordsOf, shelfKey, useCodecs, variableRecord, where,
  type ShelfVariableDtype,
} from './variables';

/** Meta kind of the `P/state` entry of a checkpoint group. */
export const CHECKPOINT_KIND = 'tfjs.checkpoint';

/** Options of {@link checkpoint}. */
export interface CheckpointOptions {
  /** The training step (or epoch) this checkpoint is taken at, returned by the resuming `attachModel`. */
  step?: number;
  /** Any JSON-serialisable value to keep with the checkpoint (e.g. the data loader's position). At most ~1 MiB. */
  extra?: unknown;
}

/** What a checkpoint group's `P/state` holds (and `attachModel` returns, with `resumed`). */
export interface CheckpointState {
  /** The step given to the last `checkpoint()`, or 0 if none was taken yet. */
  step: number;
  /** The `extra` given to the last `checkpoint()`. */
  extra: unknown;
  /** `optimizer.iterations` at the checkpoint. */
  iterations: number | null;
  /** Sequence number of the index batch that wrote it. */
  seq: number;
}

interface MemberSpec { name: string; dtype: ShelfVariableDtype; shape: number[] }
interface SlotSpec { field: string; index?: number; suffix?: string; dtype: ShelfVariableDtype; shape: number[] }

/** The header of `P/state`. */
export interface StateHeader {
  v: 1;
  /** True for the state written by the first `attachModel`, before any `checkpoint()`. */
  initial: boolean;
  step: number;
  extra?: unknown;
  time: string;
  variables: MemberSpec[];
  optimizer: { className: string; iterations: number; slots: SlotSpec[] } | null;
}

/** An optimizer as far as checkpoints care: tfjs' built-in ones all fit. */
export interface OptimizerLike {
  applyGradients(variableGradients: unknown): void;
  getClassName(): string;
  iterations: number;
}

interface OptimizerVariable { originalName: string; variable: tf.Variable }

/** One optimizer variable: where it sits in the optimizer (`field`, optional `index`). */
interface Slot { field: string; index?: number; variable: tf.Variable; originalName?: string }

/**
 * The optimizer's variables, found by shape rather than by class: every own field that is a tf.Variable (Adam's
 * `accBeta1`, Adamax's `iteration`) and every field that is an array of `{originalName, variable}` (the per-weight slots
 * of Momentum, RMSProp, Adam, Adamax, Adagrad, Adadelta). Field order is the constructor's, so it is stable.
 */
export function optimizerSlots(opt: object): Slot[] {
  const out: Slot[] = [];
  const o = opt as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    const v = o[field];
    if (Array.isArray(v)) {
      v.forEach((e: unknown, index) => {
        const ov = e as Partial<OptimizerVariable> | null;
        if (ov != null && ov.variable instanceof tf.Variable) out.push({ field, index, variable: ov.variable, originalName: ov.originalName });
      });
    } else if (v instanceof tf.Variable) {
      out.push({ field, variable: v });
    }
  }
  return out;
}

/**
 * The part of a slot's originalName after its weight's name: tfjs names slots `<weight name>/<suffix>` (`/m`, `/v`,
 * `/momentum`, `/rms`, …), and weight names differ between runs, so only the suffix is stored.
 */
function suffixOf(sl: Slot): string | undefined {
  if (sl.index === undefined || sl.originalName === undefined) return undefined;
  const cut = sl.originalName.lastIndexOf('/');
  return cut >= 0 ? sl.originalName.slice(cut) : undefined;
}

function slotKey(field: string, index?: number): string {
  return index === undefined ? field : `${field}/${index}`;
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length === 0) throw new TypeError('Expected the checkpoint prefix to be a non-empty string');
  if (prefix.startsWith('.')) throw new ShelfError('ESHELF_NAME', `checkpoint prefix "${prefix}" is reserved: names starting with "." are internal`);
  if (prefix.endsWith('/')) throw new ShelfError('ESHELF_NAME', `checkpoint prefix "${prefix}" must not end with "/"`);
  return prefix;
}

const groupsOf = new WeakMap<object, Map<string, CheckpointGroup>>();

/** The group attached under `prefix` of `s`, if any. */
export function groupOf(s: Shelf, prefix: string): CheckpointGroup | undefined {
  return groupsOf.get(shelfKey(s))?.get(prefix);
}

/**
 * Variables + optimizer state kept under one prefix, with the two-buffer commit protocol. Internal: created by
 * `attachVariables` / `attachModel`.
 */
export class CheckpointGroup {
  readonly shelf: Shelf;
  readonly prefix: string;
  readonly variables: VarRecord[] = [];
  readonly slots = new Map<string, { rec: VarRecord; field: string; index?: number; suffix?: string }>();
  optimizer: (OptimizerLike & object) | null = null;
  /** Stored optimizer state kept as is because the group was attached without an optimizer. */
  private carried: StateHeader['optimizer'] = null;
  /** True once a commit has erased the names under the prefix that are not members. */
  private staleChecked = false;
  private unwrap: (() => void) | null = null;
  private unlisten: (() => void) | null = null;
  /** Restored slots whose originalName still has to be rebased on this process's variable names. */
  private rebase: { field: string; index: number; suffix: string }[] = [];
  state: CheckpointState | null = null;
  released = false;
  /** Slabs this group allocated or opened, by entry name. `committed` false: not yet named in the index. */
  private slabs = new Map<string, { offset: number; half: number; committed: boolean }>();
  private nextSlab = -1;

  constructor(s: Shelf, prefix: string) {
    this.shelf = s;
    this.prefix = prefix;
  }

  get stateName(): string {
    return `${this.prefix}/state`;
  }

  varName(i: number): string {
    return `${this.prefix}/var/${i}`;
  }

  slotName(field: string, index?: number): string {
    return `${this.prefix}/opt/${slotKey(field, index)}`;
  }

  /** The committed state header, or null. */
  readState(): { header: StateHeader; seq: number } | null {
    const inner = internals(this.shelf);
    const e = inner.pool.get(this.stateName);
    if (e === null) return null;
    const { kind, header } = inner.decodeMeta(e.meta);
    if (kind !== CHECKPOINT_KIND) {
      throw new ShelfError('ESHELF_TYPE', `${where(this.shelf, this.stateName)} is a ${kind} entry, not a tfjs checkpoint state`);
    }
    const h = header as Partial<StateHeader>;
    if (h.v !== 1 || !Array.isArray(h.variables) || typeof h.step !== 'number') {
      throw new ShelfError('ESHELF_CORRUPT', `checkpoint state ${where(this.shelf, this.stateName)} has an invalid header`);
    }
    return { header: h as StateHeader, seq: e.seq };
  }

  /** A name for a new slab, unused under the prefix. */
  private slabName(): string {
    if (this.nextSlab < 0) {
      let n = 0;
      const base = `${this.prefix}/slab/`;
      for (const name of internals(this.shelf).pool.names(base)) {
        const k = Number(name.slice(base.length));
        if (Number.isSafeInteger(k) && k >= n) n = k + 1;
      }
      this.nextSlab = n;
    }
    return `${this.prefix}/slab/${this.nextSlab++}`;
  }

  /** Records for new members, in one new slab. */
  private newMembers(specs: { name: string; dtype: ShelfVariableDtype; shape: number[]; trainable: boolean }[]): VarRecord[] {
    if (specs.length === 0) return [];
    const name = this.slabName();
    const { offset, half, records } = allocSlab(this.shelf, name, specs);
    this.slabs.set(name, { offset, half, committed: false });
    return records;
  }

  private register(rec: VarRecord): void {
    recordsOf(this.shelf).set(rec.name, rec);
  }

  /**
   * Attach `vars` (and `optimizer`): load them from the committed state when there is one, else store their current
   * values as the initial state. Returns the state now in force and whether it came from an earlier run.
   */
  attach(vars: tf.Variable[], optimizer: (OptimizerLike & object) | null): { resumed: boolean; state: CheckpointState } {
    const prior = this.readState();
    this.optimizer = optimizer; // before the initial commit: it records the optimizer's state
    if (prior !== null) this.load(prior.header, prior.seq, vars, optimizer);
    else this.fresh(vars, optimizer);
    if (optimizer !== null) this.wrapOptimizer(optimizer);
    this.unlisten = onRelease(this.shelf, () => this.release(true));
    return { resumed: prior !== null && !prior.header.initial, state: this.state! };
  }

  private fresh(vars: tf.Variable[], optimizer: (OptimizerLike & object) | null): void {
    const recs = this.newMembers(vars.map((v, i) => ({ name: this.varName(i), dtype: v.dtype as ShelfVariableDtype, shape: v.shape.slice(), trainable: v.trainable })));
    for (let i = 0; i < vars.length; i++) {
      const rec = recs[i];
      this.register(rec);
      rec.bind(vars[i], 'variable');
      this.variables.push(rec);
    }
    if (optimizer !== null) this.homeSlots(optimizer);
    this.commit(0, undefined, true);
  }

  private load(h: StateHeader, seq: number, vars: tf.Variable[], optimizer: (OptimizerLike & object) | null): void {
    const s = this.shelf;
    if (h.variables.length !== vars.length) {
      throw new ShelfError('ESHELF_TYPE', `checkpoint "${this.prefix}" on shelf ${internals(s).pool.path} holds ${h.variables.length} variables, ` +
        `the model has ${vars.length}: erase the prefix or attach under another one`);
    }
    vars.forEach((v, i) => {
      const m = h.variables[i];
      if (m.dtype !== v.dtype || !tf.util.arraysEqual(m.shape, v.shape)) {
        throw new ShelfError('ESHELF_TYPE', `checkpoint "${this.prefix}" on shelf ${internals(s).pool.path}: variable ${i} ("${m.name}") is ` +
          `${m.dtype}[${m.shape}], the model's "${v.name}" is ${v.dtype}[${v.shape}]`);
      }
    });
    const opt = h.optimizer;
    // No optimizer attached this time: keep the stored optimizer state as it is, for a later attach that has one.
    if (optimizer === null) this.carried = opt;
    if (opt !== null && optimizer !== null && opt.className !== optimizer.getClassName()) {
      throw new ShelfError('ESHELF_TYPE', `checkpoint "${this.prefix}" on shelf ${internals(s).pool.path} holds ${opt.className} optimizer state, ` +
        `the optimizer given is ${optimizer.getClassName()}`);
    }
    // Open every member first, so that a missing or corrupt entry fails before anything is rebound.
    const recs = vars.map((_, i) => this.openMember(this.varName(i)));
    const slotRecs = opt !== null && optimizer !== null ? opt.slots.map((sl) => this.openMember(this.slotName(sl.field, sl.index))) : [];
    vars.forEach((v, i) => {
      this.register(recs[i]);
      recs[i].bind(v, 'shelf');
      this.variables.push(recs[i]);
    });
    if (opt !== null && optimizer !== null) {
      const o = optimizer as unknown as Record<string, unknown>;
      // Slots the optimizer has but the checkpoint has not (it was taken before they existed) go: tfjs re-creates
      // them, as zeros, at the next step, exactly as it did after the checkpoint in the run that took it.
      const stored = new Set(opt.slots.map((sl) => slotKey(sl.field, sl.index)));
      for (const sl of optimizerSlots(optimizer)) {
        if (sl.index === undefined || stored.has(slotKey(sl.field, sl.index))) continue;
        (o[sl.field] as unknown[])[sl.index] = undefined;
        const old = variableRecord(sl.variable);
        if (old !== undefined) old.release(false);
        sl.variable.dispose();
      }
      opt.slots.forEach((sl, k) => {
        const rec = slotRecs[k];
        this.register(rec);
        const current = o[sl.field];
        if (sl.index === undefined) {
          if (!(current instanceof tf.Variable)) {
            throw new ShelfError('ESHELF_TYPE', `checkpoint "${this.prefix}": the optimizer has no variable field "${sl.field}"`);
          }
          rec.bind(current, 'shelf');
        } else {
          if (!Array.isArray(current)) {
            throw new ShelfError('ESHELF_TYPE', `checkpoint "${this.prefix}": the optimizer has no slot list "${sl.field}"`);
          }
          const entry = current[sl.index] as Partial<OptimizerVariable> | undefined;
          if (entry != null && entry.variable instanceof tf.Variable) {
            rec.bind(entry.variable, 'shelf');
          } else {
            const seed = rec.valueOf(rec.cur);
            const v = tf.variable(seed, false, undefined, rec.dtype);
            if (!rec.zeroCopy) seed.dispose();
            rec.bind(v, 'both');
            current[sl.index] = { originalName: `${sl.suffix ?? ''}`, variable: v };
            this.rebase.push({ field: sl.field, index: sl.index, suffix: sl.suffix ?? '' });
          }
        }
        this.slots.set(slotKey(sl.field, sl.index), { rec, field: sl.field, index: sl.index, suffix: sl.suffix });
      });
      (optimizer as unknown as { iterations_: number }).iterations_ = opt.iterations;
    }
    this.state = { step: h.step, extra: h.extra, iterations: opt?.iterations ?? null, seq };
  }

  private openMember(name: string): VarRecord {
    const rec = openRecord(this.shelf, name);
    if (rec === null) throw new ShelfError('ESHELF_CORRUPT', `checkpoint member ${where(this.shelf, name)} is missing`);
    if (rec.buffers !== 2) throw new ShelfError('ESHELF_CORRUPT', `checkpoint member ${where(this.shelf, name)} is not double-buffered`);
    if (rec.slab !== null && !this.slabs.has(rec.slab)) {
      const sl = readSlab(this.shelf, rec.slab)!;
      this.slabs.set(rec.slab, { offset: sl.offset, half: sl.half, committed: true });
    }
    return rec;
  }

  /**
   * Committed names under the prefix that belong to no member (left by an earlier, different model or optimizer), to
   * erase in the batch that commits `members`. Checked at the first commit after attach: later ones add members only.
   */
  private staleNames(members: VarRecord[]): string[] {
    if (this.staleChecked) return [];
    const inner = internals(this.shelf);
    const keep = new Set<string>([this.stateName, ...members.map((r) => r.name)]);
    for (const r of members) if (r.slab !== null) keep.add(r.slab);
    for (const sl of this.carried?.slots ?? []) {
      const name = this.slotName(sl.field, sl.index);
      keep.add(name);
      // a carried slot in a slab keeps its slab
      const e = inner.pool.get(name);
      if (e !== null) {
        const { header } = inner.decodeMeta(e.meta);
        const slab = (header as { slab?: unknown }).slab;
        if (typeof slab === 'string') keep.add(slab);
      }
    }
    return inner.pool.names(`${this.prefix}/`)
      .filter((n) => !keep.has(n) && (n.startsWith(`${this.prefix}/var/`) || n.startsWith(`${this.prefix}/opt/`) || n.startsWith(`${this.prefix}/slab/`)));
  }

  /**
   * Put on the shelf every optimizer variable not yet there (slots appear at the optimizer's first step), and follow
   * slots the optimizer replaced (e.g. by `setWeights`).
   */
  homeSlots(optimizer: object): void {
    const inner = internals(this.shelf);
    const fresh: { key: string; sl: Slot }[] = [];
    for (const sl of optimizerSlots(optimizer)) {
      const key = slotKey(sl.field, sl.index);
      const known = this.slots.get(key);
      if (known !== undefined && known.rec.variable === sl.variable && !known.rec.released) continue;
      const v = sl.variable;
      if (known !== undefined && !known.rec.released && known.rec.dtype === v.dtype && tf.util.arraysEqual(known.rec.shape, v.shape)) {
        // The optimizer replaced the variable (setWeights): keep the extent, take the new variable's value.
        known.rec.unbind(true);
        known.rec.bind(v, 'variable');
        continue;
      }
      if (known !== undefined && !known.rec.released) {
        known.rec.release(true);
        // (a slab member's space stays in its slab: the slab goes when none of its members is left)
        if (known.rec.slab === null && known.rec.active < 0 && known.rec.bufferBytes > 0) inner.pool.release(known.rec.offset);
      }
      const existing = variableRecord(v);
      if (existing !== undefined && existing.shelf !== this.shelf) existing.release(true);
      fresh.push({ key, sl });
    }
    // Slots that appear together (at the optimizer's first step) share one slab.
    const recs = this.newMembers(fresh.map(({ sl }) => ({ name: this.slotName(sl.field, sl.index), dtype: sl.variable.dtype as ShelfVariableDtype, shape: sl.variable.shape.slice(), trainable: false })));
    fresh.forEach(({ key, sl }, i) => {
      const rec = recs[i];
      this.register(rec);
      rec.bind(sl.variable, 'variable');
      this.slots.set(key, { rec, field: sl.field, index: sl.index, suffix: suffixOf(sl) });
    });
  }

  private wrapOptimizer(optimizer: OptimizerLike & object): void {
    const own = Object.prototype.hasOwnProperty.call(optimizer, 'applyGradients');
    const before = (optimizer as { applyGradients: (g: unknown) => void }).applyGradients;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const group = this;
    const wrapped = function applyGradients(this: unknown, variableGradients: unknown): void {
      group.rebaseNames(variableGradients);
      before.call(this, variableGradients);
      if (!group.released) group.homeSlots(optimizer);
    };
    Object.defineProperty(optimizer, 'applyGradients', { value: wrapped, configurable: true, writable: true, enumerable: false });
    this.unwrap = () => {
      if ((optimizer as { applyGradients: unknown }).applyGradients !== wrapped) return;
      if (own) Object.defineProperty(optimizer, 'applyGradients', { value: before, configurable: true, writable: true, enumerable: false });
      else delete (optimizer as { applyGradients?: unknown }).applyGradients;
    };
  }

  /** Give restored slots the originalName tfjs would have given them in this process (`<weight name><suffix>`). */
  private rebaseNames(variableGradients: unknown): void {
    if (this.rebase.length === 0 || this.optimizer === null) return;
    const names = Array.isArray(variableGradients)
      ? (variableGradients as { name: string }[]).map((g) => g.name)
      : Object.keys(variableGradients as object);
    const o = this.optimizer as unknown as Record<string, OptimizerVariable[]>;
    for (const r of this.rebase) {
      const e = o[r.field]?.[r.index];
      if (e != null && names[r.index] !== undefined) e.originalName = `${names[r.index]}${r.suffix}`;
    }
    this.rebase = [];
  }

  /** Commit the group: persist working buffers, then flip them and write the state in one batch. */
  commit(step: number, extra: unknown, initial: boolean): CheckpointState {
    const inner = internals(this.shelf);
    if (this.optimizer !== null) this.homeSlots(this.optimizer);
    const members = [...this.variables, ...[...this.slots.values()].map((x) => x.rec)];
    const ops: Parameters<typeof inner.commit>[0] = [];
    const touched: VarRecord[] = [];
    const flips: { offset: number; length: number }[] = [];
    // New slabs are named in this batch with their first members; new slabs left without members are given back.
    const used = new Set<string>();
    for (const rec of members) if (rec.slab !== null) used.add(rec.slab);
    const named: string[] = [];
    for (const [name, sl] of this.slabs) {
      if (sl.committed) continue;
      if (used.has(name)) {
        ops.push(slabPutOp(this.shelf, name, sl.offset, sl.half));
        named.push(name);
      } else {
        inner.pool.release(sl.offset);
        this.slabs.delete(name);
      }
    }
    for (const rec of members) {
      if (rec.active >= 0 && !rec.dirty) continue;
      // A new extent is persisted whole by the engine when first named; a flip persists only the working buffer.
      if (rec.active >= 0) flips.push(rec.currentRange());
      ops.push(putOp(rec));
      touched.push(rec);
    }
    persistRanges(this.shelf, flips);
    const iterations = this.optimizer !== null ? this.optimizer.iterations : null;
    const header: StateHeader = {
      v: 1,
      initial,
      step,
      time: new Date().toISOString(),
      variables: this.variables.map((r) => ({ name: r.variable?.name ?? '', dtype: r.dtype, shape: r.shape })),
      optimizer: this.optimizer === null ? this.carried : {
        className: this.optimizer.getClassName(),
        iterations: iterations ?? 0,
        slots: [...this.slots.values()].map((x) => ({ field: x.field, index: x.index, suffix: x.suffix, dtype: x.rec.dtype, shape: x.rec.shape })),
      },
    };
    if (extra !== undefined) header.extra = extra;
    ops.push({ type: 'put', name: this.stateName, offset: 0, length: 0, meta: inner.encodeMeta(CHECKPOINT_KIND, header as unknown as Record<string, unknown>) });
    for (const n of this.staleNames(members)) ops.push({ type: 'erase', name: n });
    const seq = inner.commit(ops);
    for (const rec of touched) markCommitted(rec);
    for (const name of named) this.slabs.get(name)!.committed = true;
    this.staleChecked = true;
    this.state = { step, extra, iterations, seq };
    return this.state;
  }

  /** Detach: variables keep their values in memory and stop writing to the shelf; the optimizer is unwrapped. */
  release(keepValues = true): void {
    if (this.released) return;
    this.released = true;
    if (this.unwrap !== null) this.unwrap();
    if (this.unlisten !== null) this.unlisten();
    for (const rec of [...this.variables, ...[...this.slots.values()].map((x) => x.rec)]) {
      const uncommitted = rec.slab === null && rec.active < 0 && rec.bufferBytes > 0 && !rec.released;
      rec.release(keepValues);
      if (uncommitted) {
        try {
          internals(this.shelf).pool.release(rec.offset);
        } catch {
          // closing: the engine reclaims uncommitted extents at the next open anyway
        }
      }
    }
    for (const sl of this.slabs.values()) {
      if (sl.committed) continue;
      try {
        internals(this.shelf).pool.release(sl.offset);
      } catch {
        // closing: the engine reclaims uncommitted extents at the next open anyway
      }
    }
    this.slabs.clear();
    groupsOf.get(shelfKey(this.shelf))?.delete(this.prefix);
  }
}

/**
 * Attach `variables` (and an optimizer's state) to shelf `s` under `prefix` as a checkpoint group. If the prefix already
 * holds a state, the variables and the optimizer are loaded from it first. Used by `attachModel`; use it directly for
 * custom training loops.
 */
export function attachVariables(s: Shelf, prefix: string, variables: tf.Variable[], options: { optimizer?: OptimizerLike & object | null } = {}): { resumed: boolean } & CheckpointState {
  checkPrefix(prefix);
  if (!Array.isArray(variables) || !variables.every((v) => v instanceof tf.Variable)) {
    throw new TypeError('Expected "variables" to be an array of tf.Variable');
  }
  if (options === null || typeof options !== 'object') throw new TypeError('Expected the options to be an object');
  for (const k of Object.keys(options)) if (k !== 'optimizer') throw new TypeError(`Unknown option "${k}" (expected: optimizer)`);
  const optimizer = options.optimizer ?? null;
  if (optimizer !== null && (typeof optimizer.applyGradients !== 'function' || typeof optimizer.getClassName !== 'function')) {
    throw new TypeError('Expected the "optimizer" option to be a tf.Optimizer');
  }
  for (const v of variables) {
    if (v.dtype !== 'float32' && v.dtype !== 'int32' && v.dtype !== 'bool') {
      throw new ShelfError('ESHELF_TYPE', `variable "${v.name}" has dtype ${v.dtype}: only float32, int32 and bool variables can be attached`);
    }
  }
  if (s.readOnly) throw new ShelfError('ESHELF_READONLY', `cannot attach under "${prefix}": shelf ${internals(s).pool.path} is open read-only`);
  useCodecs();
  let groups = groupsOf.get(shelfKey(s));
  if (groups === undefined) {
    groups = new Map();
    groupsOf.set(shelfKey(s), groups);
  }
  const prev = groups.get(prefix);
  if (prev !== undefined) prev.release(true);
  const g = new CheckpointGroup(s, prefix);
  const { resumed, state } = g.attach(variables, optimizer);
  groups.set(prefix, g);
  return { resumed, ...state };
}

/**
 * Take a checkpoint of everything attached under `prefix`: durable, and crash-atomic for all of it together.
 * Returns the new state. Errors: `ESHELF_NOT_FOUND` (nothing attached there), RangeError/TypeError (bad `extra`),
 * and the engine's (`ESHELF_IO`, `ESHELF_FULL`, `ESHELF_CLOSED`).
 */
export function checkpoint(s: Shelf, prefix: string, options: CheckpointOptions = {}): CheckpointState {
  checkPrefix(prefix);
  if (options === null || typeof options !== 'object') throw new TypeError('Expected the options to be an object');
  for (const k of Object.keys(options)) if (k !== 'step' && k !== 'extra') throw new TypeError(`Unknown option "${k}" (expected: step, extra)`);
  const step = options.step ?? 0;
  if (typeof step !== 'number' || !Number.isFinite(step)) throw new TypeError('Expected the "step" option to be a finite number');
  const g = groupOf(s, prefix);
  if (g === undefined || g.released) {
    throw new ShelfError('ESHELF_NOT_FOUND', `nothing is attached under "${prefix}" on shelf ${internals(s).pool.path}: call attachModel first`);
  }
  return g.commit(step, options.extra, false);
}

/** Detach what is attached under `prefix`: the variables keep their current values in memory and stop writing to the shelf. */
export function detach(s: Shelf, prefix: string): void {
  checkPrefix(prefix);
  groupOf(s, prefix)?.release(true);
}

/** Codec of kind `tfjs.checkpoint`: `s['P/state']` reads as a copy of the state header (step, extra, members). */
export const checkpointCodec: ShelfCodec<StateHeader> = {
  kind: CHECKPOINT_KIND,
  cache: false,
  test: () => false,
  plan(): never {
    throw new TypeError('Checkpoint states are written by attachModel() and checkpoint()');
  },
  write(): never {
    throw new TypeError('Checkpoint states are written by attachModel() and checkpoint()');
  },
  read(header) {
    return JSON.parse(JSON.stringify(header)) as StateHeader;
  },
};
