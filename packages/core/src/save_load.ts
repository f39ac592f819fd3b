/**
 * Checkpoints: `save(value, prefix)` and `load(prefix)`.
 *
 * `save` stores a nested structure (plain objects, arrays and `Map`s with string keys, holding any shelf-able values) as
 * entries under `prefix/`: each array, typed array, Buffer or registered-codec value becomes its own entry
 * (`prefix/a/b/0`, path segments escaped: `%` -> `%25`, `/` -> `%2F`, empty -> `%E`), a sub-structure holding none of those
 * is stored whole as one structured (v8) entry, and the entry `prefix` itself (kind `tree`, no extent) records the shape.
 * Everything — new entries, the root, and the erasure of whatever was under `prefix/` before — is one atomic batch, so
 * saving over an existing prefix replaces the previous version atomically; a crash leaves the old or the new version whole.
 *
 * `load(prefix)` (and reading `s[prefix]`) rebuilds the structure, with arrays as shelf views (no copies; same lifetimes
 * as any shelved array). Erasing `prefix` erases the whole structure.
 */
import { MAX_NAME_BYTES, ShelfError, type Op } from '@tsmm/native';
import { codecFor } from './codecs/registry';
import { decodeMeta, encodeMeta } from './meta';
import { checkVariableName } from './names';
import { setLoadTreeHook, type ShelfCore, type Staged } from './store';

/** Shape of a saved structure, stored in the root entry's header. */
export type TreeNode =
  | { t: 'o'; c: Array<[string, TreeNode]> }
  | { t: 'm'; c: Array<[string, TreeNode]> }
  | { t: 'a'; c: TreeNode[] }
  | { t: 'l'; n: string };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const p: unknown = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function isContainer(v: unknown): boolean {
  if (Array.isArray(v) || isPlainObject(v)) return true;
  if (v instanceof Map && Object.getPrototypeOf(v) === Map.prototype) {
    for (const k of v.keys()) if (typeof k !== 'string') return false;
    return true;
  }
  return false;
}

function children(v: unknown): Array<[string, unknown]> {
  if (Array.isArray(v)) return v.map((x, i) => [String(i), x]);
  if (v instanceof Map) return [...(v as Map<string, unknown>)];
  return Object.keys(v as object).map((k) => [k, (v as Record<string, unknown>)[k]]);
}

/** True when `v` holds (at any depth) a value that gets its own entry: anything but scalars and structured data. */
function holdsEntries(v: unknown, seen: Set<object>): boolean {
  if (!isContainer(v)) {
    const c = codecFor(v);
    return c !== undefined && c.kind !== 'scalar' && c.kind !== 'v8';
  }
  if (seen.has(v as object)) return false;
  seen.add(v as object);
  return children(v).some(([, x]) => holdsEntries(x, seen));
}

function esc(seg: string): string {
  if (seg === '') return '%E';
  return seg.replace(/%/g, '%25').replace(/\//g, '%2F');
}

/** Save `value` under `prefix` in one atomic batch (deferred to the end of an open transaction). */
export function save(core: ShelfCore, value: unknown, prefix: string): void {
  core.checkOpen();
  checkVariableName(prefix, core.memberProto);
  core.checkWritable(`save '${prefix}'`);
  if (!isContainer(value)) {
    throw new TypeError(`save() stores an object, array or Map (with string keys) under '${prefix}'; use put() for a single value`);
  }
  const existing = core.entry(prefix);
  if (existing !== null && decodeMeta(existing.meta, `'${prefix}'`).kind !== 'tree') {
    throw new ShelfError('ESHELF_EXISTS', `'${prefix}' is already on shelf '${core.name}' and was not stored by save(): erase('${prefix}') it first`);
  }
  const staged: Staged[] = [];
  const onPath = new Set<object>();
  const walk = (v: unknown, segs: string[]): TreeNode => {
    if (isContainer(v) && (segs.length === 0 || holdsEntries(v, new Set()))) {
      if (onPath.has(v as object)) throw new TypeError(`save('${prefix}'): the structure refers to itself at ${segs.join('/') || 'its root'}`);
      onPath.add(v as object);
      const kids = children(v).map(([k, x]): [string, TreeNode] => [k, walk(x, [...segs, k])]);
      onPath.delete(v as object);
      if (Array.isArray(v)) return { t: 'a', c: kids.map(([, n]) => n) };
      return { t: v instanceof Map ? 'm' : 'o', c: kids };
    }
    const rel = segs.map(esc).join('/');
    const name = `${prefix}/${rel}`;
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes > MAX_NAME_BYTES) {
      throw new ShelfError('ESHELF_NAME', `save('${prefix}'): the entry name for ${JSON.stringify(segs)} would be ${bytes} bytes, more than ${MAX_NAME_BYTES}`);
    }
    staged.push(core.encode(name, v));
    return { t: 'l', n: rel };
  };
  try {
    const root = walk(value, []);
    const newNames = new Set(staged.map((s) => s.op.name));
    for (const old of core.userNames(`${prefix}/`)) {
      if (!newNames.has(old)) staged.push({ op: { type: 'erase', name: old } as Op, alloc: null });
    }
    staged.push({ op: { type: 'put', name: prefix, offset: 0, length: 0, meta: encodeMeta('tree', { root }) }, alloc: null });
  } catch (e) {
    core.release(staged.map((s) => s.alloc));
    throw e;
  }
  core.apply(staged);
}

function build(core: ShelfCore, prefix: string, node: TreeNode): unknown {
  switch (node.t) {
    case 'l': {
      const name = `${prefix}/${node.n}`;
      if (core.entry(name) === null) throw new ShelfError('ESHELF_CORRUPT', `saved structure '${prefix}' lacks its entry '${name}'`);
      return core.get(name);
    }
    case 'a': return node.c.map((c) => build(core, prefix, c));
    case 'm': return new Map(node.c.map(([k, c]) => [k, build(core, prefix, c)]));
    case 'o': {
      const o: Record<string, unknown> = {};
      for (const [k, c] of node.c) Object.defineProperty(o, k, { value: build(core, prefix, c), enumerable: true, writable: true, configurable: true });
      return o;
    }
    default: throw new ShelfError('ESHELF_CORRUPT', `saved structure '${prefix}' has a malformed shape record`);
  }
}

function loadTree(core: ShelfCore, prefix: string, header: Record<string, unknown>): unknown {
  const root = header.root as TreeNode | undefined;
  if (root === undefined || root === null || typeof root !== 'object') {
    throw new ShelfError('ESHELF_CORRUPT', `saved structure '${prefix}' has no shape record`);
  }
  return build(core, prefix, root);
}

setLoadTreeHook(loadTree);

/** Load the structure saved under `prefix` (ESHELF_NOT_FOUND if absent, ESHELF_TYPE if `prefix` was not stored by save()). */
export function load(core: ShelfCore, prefix: string): unknown {
  core.checkOpen();
  checkVariableName(prefix, core.memberProto);
  const e = core.entry(prefix);
  if (e === null) throw new ShelfError('ESHELF_NOT_FOUND', `nothing saved under '${prefix}' on shelf '${core.name}'`);
  const { kind, header } = decodeMeta(e.meta, `'${prefix}'`);
  if (kind !== 'tree') throw new ShelfError('ESHELF_TYPE', `'${prefix}' on shelf '${core.name}' was not stored by save() (it is a ${kind} value: use get())`);
  return loadTree(core, prefix, header);
}
