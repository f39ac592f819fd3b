/**
 * The `shelf://` IO handler: `model.save('shelf://…')` and `tf.loadLayersModel('shelf://…')`, modelled on tfjs-node's
 * `file://` handler (a class implementing `tf.io.IOHandler`, a `URL_SCHEME` constant, a router that returns `null` for
 * URLs it does not own, a small factory).
 *
 * URL: `shelf://<pmemPath>/<shelfName>/<key>`. Absolute directories take three slashes
 * (`shelf:///mnt/pmem0/train/mnist`); otherwise the directory is relative to the working directory
 * (`shelf://runs/train/mnist`), and `shelf://<shelfName>/<key>` uses the default directory of `@tsmm/core`.
 * The last segment is always the key (percent-decoded: `shelf:///d/train/models%2Fmnist` has key `models/mnist`),
 * so a URL never depends on which files happen to exist. Saving to a shelf that does not exist creates it.
 * A shelf that is already open in this process (through any tsmm tfjs API) is used as is; for one you opened
 * yourself, use {@link shelfIO}`(s, key)`.
 *
 * On the shelf, a model saved under `key` is:
 *   key           kind `tfjs.model`:  extent = UTF-8 JSON {modelTopology, weightSpecs, trainingConfig, userDefinedMetadata, …}
 *   key/w/<i>     kind `tfjs.weight`: extent = the i-th weight's bytes (its own entry: no concatenation), header = its spec
 * Saving over an existing key replaces all of it in one atomic index batch: a reader (or a crash) sees the old model
 * or the new one, never a mix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Shelf, ShelfError, defaultPmemPath, internals, shelf as openShelf } from '@tsmm/core';
import { knownShelfAt, rememberShelf, useCodecs } from '../variables';
import { installLazyZeros } from './lazy_zeros';
import { ShardReader, markShelfWeights, shardsOf, weightByteLength } from './weights';

/** The URL scheme this handler owns. */
export const URL_SCHEME = 'shelf://';

/** Meta kind of a saved model's manifest entry. */
export const MODEL_KIND = 'tfjs.model';
/** Meta kind of one saved weight. */
export const WEIGHT_KIND = 'tfjs.weight';

/** What the manifest entry of a saved model holds (JSON). */
export interface ShelfModelManifest {
  v: 1;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: {};
  trainingConfig?: tf.io.TrainingConfig;
  signature?: {};
  userDefinedMetadata?: { [key: string]: {} };
  modelInitializer?: {};
  initializerSignature?: {};
  weightSpecs: tf.io.WeightsManifestEntry[];
}

const MIB = 2 ** 20;

/** A parsed `shelf://` URL. `pmemPath` is `undefined` for `shelf://<shelfName>/<key>` (core's default directory). */
export interface ShelfUrl {
  url: string;
  pmemPath: string | undefined;
  name: string;
  key: string;
}

/**
 * Parse `url` (which must start with `shelf://`): the last segment is the key (percent-decoded, so a key with a slash
 * is written `models%2Fmnist`), the one before it the shelf name, the rest the directory. `ESHELF_NAME` naming the URL
 * when it has fewer than two segments or a `.`/`..` segment.
 */
export function parseShelfUrl(url: string): ShelfUrl {
  if (typeof url !== 'string' || !url.startsWith(URL_SCHEME)) throw new TypeError(`Expected a ${URL_SCHEME} URL, got "${String(url)}"`);
  const rest = url.slice(URL_SCHEME.length);
  const absolute = rest.startsWith('/');
  const segs = rest.split('/').filter((p) => p.length > 0);
  if (segs.length < 2 || segs.some((p) => p === '.' || p === '..')) {
    throw new ShelfError('ESHELF_NAME', `${url}: expected ${URL_SCHEME}<pmemPath>/<shelfName>/<key> (absolute paths take three slashes)`);
  }
  let key: string;
  try {
    key = decodeURIComponent(segs[segs.length - 1]);
  } catch {
    throw new ShelfError('ESHELF_NAME', `${url}: the key is not valid percent-encoding`);
  }
  const dirSegs = segs.slice(0, -2);
  let pmemPath: string | undefined;
  if (absolute) pmemPath = '/' + dirSegs.join('/');
  else pmemPath = dirSegs.length === 0 ? undefined : path.resolve(dirSegs.join('/'));
  return { url, pmemPath, name: segs[segs.length - 2], key };
}

function poolExists(dir: string, name: string): boolean {
  return fs.existsSync(path.join(dir, `${name}.map`)) && fs.existsSync(path.join(dir, `${name}.data`));
}

// ---------------------------------------------------------------------------------------------
// shelves this module knows to be open in this process (a second open of the same pool would be ESHELF_LOCKED)

/** Shelves opened by URL here: kept open (zero-copy loads may reference them), reused by later URLs. */
const openedHere = new Map<string, Shelf>();

function liveShelf(poolPath: string): Shelf | undefined {
  const mine = openedHere.get(poolPath);
  if (mine !== undefined && !mine.closed) return mine;
  openedHere.delete(poolPath);
  return knownShelfAt(poolPath);
}

/**
 * Weight views of the models read from shelves that URLs opened here: by pool, then by entry name. Kept alive on
 * purpose. A view that V8 collects between two loads must be made again, and 64 MiB of new views (external memory to
 * V8) start a major GC inside the next load: 8-28 ms instead of ~1 ms per load of a 64 MiB model when other code
 * allocates in between (perf-findings PF-5). A kept view pins its extent (the engine does not reuse memory a view can
 * reach), which is safe only where nothing but this module can erase the entries: shelves opened by URL here, which no
 * one else holds. Saving over a key drops the views of its weights; closing the shelf drops them all.
 */
const keptViews = new WeakMap<object, Map<string, { offset: number; view: ArrayBuffer }>>();

/** The kept views of `s` when it is a shelf opened by URL here, else null (views are then not kept). */
function keptViewsOf(s: Shelf): Map<string, { offset: number; view: ArrayBuffer }> | null {
  let byUrl = false;
  for (const t of openedHere.values()) if (t === s) byUrl = true;
  if (!byUrl || s.closed) return null;
  const pool = internals(s).pool;
  let m = keptViews.get(pool);
  if (m === undefined) keptViews.set(pool, (m = new Map()));
  return m;
}

/** Stop keeping the views of `s` (all, or those of entries under `prefix`). */
function dropKeptViews(s: Shelf, prefix?: string): void {
  let pool: object;
  try {
    pool = internals(s).pool;
  } catch {
    return;
  }
  const m = keptViews.get(pool);
  if (m === undefined) return;
  if (prefix === undefined) {
    keptViews.delete(pool);
    return;
  }
  for (const name of [...m.keys()]) if (name.startsWith(prefix)) m.delete(name);
}

/**
 * Close the shelves that `shelf://` URLs opened in this process (they stay open so that zero-copy loads can keep
 * using their memory). `force` moves tensors still viewing them to memory first.
 */
export function closeShelfUrls(options: { force?: boolean } = {}): void {
  for (const [p, s] of [...openedHere]) {
    if (!s.closed) s.close({ force: options.force === true });
    dropKeptViews(s);
    openedHere.delete(p);
  }
}

// ---------------------------------------------------------------------------------------------
// the handler

/** Target of a handler: a URL, or an open shelf and a key. */
type Target = { url: string } | { shelf: Shelf; key: string };

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('Expected the model key to be a non-empty string');
  if (key.startsWith('.')) throw new ShelfError('ESHELF_NAME', `model key "${key}" is reserved: names starting with "." are internal`);
  if (key.endsWith('/') || key.startsWith('/')) throw new ShelfError('ESHELF_NAME', `model key "${key}" must not start or end with "/"`);
  return key;
}

/**
 * Saves and loads LayersModels (and any tfjs model artifacts) on a shelf. Obtain one from `model.save('shelf://…')` /
 * `tf.loadLayersModel('shelf://…')` through the router, or with {@link shelfIO} for an open shelf.
 */
export class ShelfIOHandler implements tf.io.IOHandler {
  static readonly URL_SCHEME = URL_SCHEME;
  private readonly target: Target;

  constructor(target: string | { shelf: Shelf; key: string }) {
    useCodecs();
    if (typeof target === 'string') {
      checkKey(parseShelfUrl(target).key);
      this.target = { url: target };
    } else {
      if (target === null || typeof target !== 'object' || !(target.shelf instanceof Shelf)) {
        throw new TypeError('Expected a shelf:// URL or { shelf, key }');
      }
      this.target = { shelf: target.shelf, key: checkKey(target.key) };
      rememberShelf(target.shelf);
    }
  }

  /** How this handler names its target in messages. */
  get description(): string {
    if ('url' in this.target) return this.target.url;
    let p = '(closed shelf)';
    try {
      p = internals(this.target.shelf).pool.path;
    } catch {
      // keep the placeholder
    }
    return `"${this.target.key}" on shelf ${p}`;
  }

  /** Resolve the shelf and key: an open one we know of, else open (or, to save, create) it. */
  private acquire(forSave: boolean, bytesNeeded: number): { s: Shelf; key: string; opened: boolean } {
    if ('shelf' in this.target) return { s: this.target.shelf, key: this.target.key, opened: false };
    const u = parseShelfUrl(this.target.url);
    const key = checkKey(u.key);
    const dir = u.pmemPath ?? defaultPmemPath();
    const poolPath = path.resolve(path.join(dir, u.name));
    const live = liveShelf(poolPath);
    if (live !== undefined) {
      if (forSave && live.readOnly) throw new ShelfError('ESHELF_READONLY', `${u.url}: shelf ${poolPath} is open read-only in this process`);
      return { s: live, key, opened: false };
    }
    if (!forSave && !poolExists(dir, u.name)) {
      throw new ShelfError('ESHELF_NOT_FOUND', `${u.url}: no shelf ${poolPath} (${poolPath}.map and .data)`);
    }
    let s: Shelf;
    try {
      if (forSave) {
        fs.mkdirSync(dir, { recursive: true });
        const sizeMb = Math.max(64, Math.ceil((2 * bytesNeeded) / MIB) + 16);
        s = openShelf(u.name, { pmemPath: dir, sizeMb });
      } else {
        s = openShelf(u.name, { pmemPath: dir });
      }
    } catch (e) {
      throw withUrl(e, u.url);
    }
    openedHere.set(poolPath, s);
    rememberShelf(s);
    return { s, key, opened: true };
  }

  /** Save `artifacts` under the key, replacing a model saved there before, in one atomic batch. */
  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new Error(`${this.description}: ShelfIOHandler.save() does not support a binary model topology`);
    }
    const specs = artifacts.weightSpecs ?? [];
    const data = new ShardReader(shardsOf(artifacts.weightData));
    const lengths: number[] = [];
    let at = 0;
    for (const spec of specs) {
      const n = weightByteLength(spec, data, at);
      lengths.push(n);
      at += n;
    }
    if (at !== data.byteLength) {
      throw new Error(`${this.description}: the weight specs describe ${at} bytes but weightData holds ${data.byteLength}`);
    }
    const manifest: ShelfModelManifest = { v: 1, weightSpecs: specs };
    for (const k of ['format', 'generatedBy', 'convertedBy', 'modelTopology', 'trainingConfig', 'signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature'] as const) {
      if (artifacts[k] !== undefined) (manifest as unknown as Record<string, unknown>)[k] = artifacts[k];
    }
    const json = Buffer.from(JSON.stringify(manifest), 'utf8');
    const { s, key } = this.acquire(true, at + json.length);
    try {
      writeModel(s, key, json, specs, lengths, data);
    } catch (e) {
      throw withUrl(e, this.description);
    }
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }

  /**
   * Load the model saved under the key. The weights are handed to tfjs as zero-copy views of the shelf; under the
   * `'shelf'` backend they become tensors without any copy (the shelf then stays open while they live).
   */
  async load(): Promise<tf.io.ModelArtifacts> {
    const { s, key, opened } = this.acquire(false, 0);
    installLazyZeros(); // tfjs-layers is loaded by now: the model it builds next gets free initial weights
    try {
      // A shelf opened for this URL is closed once tfjs has decoded the weights, unless tensors adopted its memory.
      return readModel(s, key, opened ? () => closeOpened(s) : null, keptViewsOf(s));
    } catch (e) {
      if (opened) closeOpened(s);
      throw withUrl(e, 'url' in this.target ? this.target.url : this.description);
    }
  }
}

function closeOpened(s: Shelf): void {
  dropKeptViews(s);
  for (const [p, t] of openedHere) if (t === s) openedHere.delete(p);
  if (!s.closed) s.close();
}

function withUrl(e: unknown, what: string): unknown {
  if (e instanceof ShelfError && !e.message.includes(what)) {
    return new ShelfError(e.code, `${what}: ${e.message}`, { errno: e.errno, syscall: e.syscall, path: e.path });
  }
  return e;
}

/** Write a model as `key` + `key/w/<i>`, replacing any model there, in one batch. */
function writeModel(s: Shelf, key: string, json: Buffer, specs: tf.io.WeightsManifestEntry[], lengths: number[], data: ShardReader): void {
  const inner = internals(s);
  const pool = inner.pool;
  const old = pool.get(key);
  if (old !== null) {
    const { kind } = inner.decodeMeta(old.meta);
    if (kind !== MODEL_KIND) {
      throw new ShelfError('ESHELF_EXISTS', `"${key}" on shelf ${pool.path} is a ${kind} entry, not a saved model: erase it or save under another key`);
    }
  }
  // The weights about to be replaced must not stay pinned by kept views.
  dropKeptViews(s, `${key}/w/`);
  const allocated: number[] = [];
  try {
    const ops: Parameters<typeof inner.commit>[0] = [];
    let at = 0;
    specs.forEach((spec, i) => {
      const n = lengths[i];
      let offset = 0;
      if (n > 0) {
        offset = pool.alloc(n);
        allocated.push(offset);
        data.writeTo(pool, offset, at, n);
      }
      at += n;
      ops.push({ type: 'put', name: `${key}/w/${i}`, offset, length: n, meta: inner.encodeMeta(WEIGHT_KIND, { v: 1, spec: spec as unknown as Record<string, unknown> }) });
    });
    const mOff = pool.alloc(json.length);
    allocated.push(mOff);
    pool.write(mOff, json);
    ops.push({ type: 'put', name: key, offset: mOff, length: json.length, meta: inner.encodeMeta(MODEL_KIND, { v: 1, weights: specs.length, bytes: json.length }) });
    const prefix = `${key}/w/`;
    for (const n of pool.names(prefix)) {
      const rest = n.slice(prefix.length);
      if (!/^\d+$/.test(rest) || Number(rest) >= specs.length) ops.push({ type: 'erase', name: n });
    }
    inner.commit(ops);
  } catch (e) {
    for (const off of allocated) {
      try {
        pool.release(off);
      } catch {
        // the engine reclaims it at the next open
      }
    }
    throw e;
  }
}

/**
 * Read the model saved as `key`: the artifacts, with one zero-copy ArrayBuffer per weight. `afterDecode` runs once
 * tfjs has turned the weights into tensors that do not view the shelf. `kept`: views to reuse and keep (see keptViews).
 */
function readModel(s: Shelf, key: string, afterDecode: (() => void) | null, kept: Map<string, { offset: number; view: ArrayBuffer }> | null): tf.io.ModelArtifacts {
  const inner = internals(s);
  const pool = inner.pool;
  const e = pool.get(key);
  if (e === null) throw new ShelfError('ESHELF_NOT_FOUND', `no model "${key}" on shelf ${pool.path}`);
  const { kind } = inner.decodeMeta(e.meta);
  if (kind !== MODEL_KIND) throw new ShelfError('ESHELF_TYPE', `"${key}" on shelf ${pool.path} is a ${kind} entry, not a saved model`);
  let manifest: ShelfModelManifest;
  try {
    manifest = JSON.parse(pool.read(e.offset, e.length).toString('utf8')) as ShelfModelManifest; // a copy: no view pins it
  } catch {
    throw new ShelfError('ESHELF_CORRUPT', `the manifest of model "${key}" on shelf ${pool.path} is not valid JSON`);
  }
  if (manifest === null || typeof manifest !== 'object' || manifest.v !== 1 || !Array.isArray(manifest.weightSpecs)) {
    throw new ShelfError('ESHELF_CORRUPT', `the manifest of model "${key}" on shelf ${pool.path} is not a tsmm model manifest`);
  }
  const specs = manifest.weightSpecs;
  const weightData: ArrayBuffer[] = specs.map((spec, i) => {
    const name = `${key}/w/${i}`;
    const w = pool.get(name);
    if (w === null) throw new ShelfError('ESHELF_CORRUPT', `weight ${i} ("${spec.name}") of model "${key}" is missing on shelf ${pool.path}`);
    if (w.length === 0) return new ArrayBuffer(0);
    const k = kept?.get(name);
    if (k !== undefined && k.offset === w.offset && k.view.byteLength === w.length) return k.view;
    const view = pool.view(w.offset, w.length);
    kept?.set(name, { offset: w.offset, view });
    return view;
  });
  const artifacts: tf.io.ModelArtifacts = { weightSpecs: specs, weightData };
  for (const k of ['format', 'generatedBy', 'convertedBy', 'modelTopology', 'trainingConfig', 'signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature'] as const) {
    if (manifest[k] !== undefined) (artifacts as Record<string, unknown>)[k] = manifest[k];
  }
  markShelfWeights(weightData, specs, s, afterDecode);
  return artifacts;
}

/**
 * The router tfjs calls for every URL given to `model.save()` / `tf.loadLayersModel()`: a handler for `shelf://` URLs,
 * `null` for anything else.
 */
export function shelfRouter(url: string | string[]): tf.io.IOHandler | null {
  if (typeof url !== 'string' || !url.startsWith(URL_SCHEME)) return null;
  return new ShelfIOHandler(url);
}

/** A handler for the model `key` of the open shelf `s`: `model.save(shelfIO(s, 'mnist'))`, `tf.loadLayersModel(shelfIO(s, 'mnist'))`. */
export function shelfIO(s: Shelf, key: string): ShelfIOHandler {
  return new ShelfIOHandler({ shelf: s, key });
}

const REGISTERED = Symbol.for('tsmm.tfjs.shelfRouters');
let registeredHere = false;

/**
 * Register the `shelf://` save and load routers with tfjs, once per tfjs instance however often it is called
 * (two routers for one scheme would make tfjs refuse the URL as ambiguous).
 */
export function registerShelfRouters(): void {
  const io = tf.io as unknown as Record<symbol, unknown>;
  if (registeredHere || io[REGISTERED] === true) return;
  // tfjs types a router as never returning null, but returning null is how a router declines a URL.
  const router = shelfRouter as unknown as Parameters<typeof tf.io.registerSaveRouter>[0];
  tf.io.registerSaveRouter(router);
  tf.io.registerLoadRouter(router);
  registeredHere = true;
  try {
    io[REGISTERED] = true;
  } catch {
    // an ES-module namespace cannot take the mark; the module flag above still prevents doubles
  }
}
