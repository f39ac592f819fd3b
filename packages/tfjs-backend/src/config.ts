/**
 * configureShelfBackend — where the 'shelf' backend keeps tensor buffers.
 *
 * - `placement: 'named'` (default): tensors live in ordinary DRAM, like 'cpu'. Only tensors read from a
 *   shelf (`s.w`), persistent variables and loaded checkpoints have their storage on shelf memory.
 * - `placement: 'all'`: EVERY tensor buffer the backend stores — tensors made from user data and every
 *   kernel output — is allocated in the backend's own pool, a volatile `@tsmm/native` Pool at
 *   `<pmemPath>/<name>.{data,map}` opened (with `forceNew`) at first use. Its allocations are never
 *   committed, so a crashed process leaves nothing behind but the files, and the next open reclaims them.
 *   The pool starts at `sizeMb` and grows in place when full.
 *
 * Options are read from the environment when not given: `TSMM_PMEM_PATH`, `TSMM_BACKEND_SIZE_MB`,
 * `TSMM_BACKEND_PLACEMENT`. Settings are process-wide (module state, not tfjs flags: `tf.engine().reset()`
 * resets flags but must not forget where the pool is).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPmemPath as coreDefaultPmemPath } from '@tsmm/core';

export type Placement = 'named' | 'all';

export interface ShelfBackendOptions {
  /** Directory of the backend's volatile pool (placement 'all'). Default: `$TSMM_PMEM_PATH`, else `/mnt/pmem0` when writable, else `./.shelves`. */
  pmemPath?: string;
  /** Initial size of the pool in MiB (it grows when full). Default: `$TSMM_BACKEND_SIZE_MB`, else 256. */
  sizeMb?: number;
  /** Pool name (file name without extension). Default `.tfjs-shelf-backend`. */
  name?: string;
  /** `'named'` (default) or `'all'`. */
  placement?: Placement;
}

export interface ShelfBackendConfig {
  /** `undefined` until first needed: resolved from the environment at first pool open. */
  readonly pmemPath: string | undefined;
  readonly sizeMb: number;
  readonly name: string;
  /** True when `name` was given explicitly (then a locked pool is an error, not a reason to pick another name). */
  readonly nameGiven: boolean;
  readonly placement: Placement;
}

export const DEFAULT_POOL_NAME = '.tfjs-shelf-backend';
export const DEFAULT_SIZE_MB = 256;
const KNOWN_OPTIONS = ['pmemPath', 'sizeMb', 'name', 'placement'];

type Listener = (next: ShelfBackendConfig, prev: ShelfBackendConfig) => void;
const listeners: Listener[] = [];

function fromEnv(): ShelfBackendConfig {
  const env = process.env;
  let sizeMb = DEFAULT_SIZE_MB;
  if (env.TSMM_BACKEND_SIZE_MB !== undefined && env.TSMM_BACKEND_SIZE_MB !== '') {
    sizeMb = checkSizeMb(Number(env.TSMM_BACKEND_SIZE_MB), 'TSMM_BACKEND_SIZE_MB environment variable');
  }
  let placement: Placement = 'named';
  if (env.TSMM_BACKEND_PLACEMENT !== undefined && env.TSMM_BACKEND_PLACEMENT !== '') {
    placement = checkPlacement(env.TSMM_BACKEND_PLACEMENT, 'TSMM_BACKEND_PLACEMENT environment variable');
  }
  return {
    pmemPath: env.TSMM_PMEM_PATH ? env.TSMM_PMEM_PATH : undefined,
    sizeMb,
    name: DEFAULT_POOL_NAME,
    nameGiven: false,
    placement,
  };
}

let current: ShelfBackendConfig = fromEnv();

function checkSizeMb(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new RangeError(`Expected the ${what} to be a positive integer (MiB), got ${String(v)}`);
  }
  return v;
}

function checkPlacement(v: unknown, what: string): Placement {
  if (v !== 'named' && v !== 'all') {
    throw new TypeError(`Expected the ${what} to be "named" or "all", got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Set where the 'shelf' backend places tensor buffers. Options not given keep their current value.
 * Returns the configuration now in force.
 *
 * Changing `pmemPath`, `sizeMb` or `name` while the backend's pool holds live tensors throws
 * `ESHELF_BUSY` (dispose them first, or call `tf.engine().reset()`). Changing only the placement is always
 * allowed: tensors already in the pool stay there; new buffers follow the new placement.
 *
 * @example
 *   configureShelfBackend({ placement: 'all', pmemPath: '/mnt/pmem0', sizeMb: 4096 });
 *   await tf.setBackend('shelf');
 */
export function configureShelfBackend(options: ShelfBackendOptions = {}): ShelfBackendConfig {
  if (options === null || typeof options !== 'object') throw new TypeError('Expected the options to be an object');
  for (const k of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(k)) {
      throw new TypeError(`Unknown option "${k}" (expected one of: ${KNOWN_OPTIONS.join(', ')})`);
    }
  }
  const next: { -readonly [K in keyof ShelfBackendConfig]: ShelfBackendConfig[K] } = { ...current };
  if (options.pmemPath !== undefined) {
    if (typeof options.pmemPath !== 'string' || options.pmemPath === '') {
      throw new TypeError('Expected the "pmemPath" option to be a non-empty string');
    }
    next.pmemPath = options.pmemPath;
  }
  if (options.sizeMb !== undefined) next.sizeMb = checkSizeMb(options.sizeMb, '"sizeMb" option');
  if (options.name !== undefined) {
    const n = options.name;
    if (typeof n !== 'string' || n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\0')) {
      throw new TypeError(`Expected the "name" option to be a file name (no "/", not "." or ".."), got ${JSON.stringify(n)}`);
    }
    next.name = n;
    next.nameGiven = true;
  }
  if (options.placement !== undefined) next.placement = checkPlacement(options.placement, '"placement" option');
  const prev = current;
  for (const l of listeners) l(next, prev); // may throw ESHELF_BUSY: then nothing changes
  current = Object.freeze(next);
  return current;
}

/** The configuration in force. */
export function getShelfBackendConfig(): ShelfBackendConfig {
  return current;
}

/** Internal: the pool module vetoes/acts on configuration changes. */
export function onConfigChange(l: Listener): void {
  listeners.push(l);
}

/**
 * Core's default location rule (shared, so shelves and the backend pool land in the same place):
 * `$TSMM_PMEM_PATH`, else `/mnt/pmem0` when it exists and is writable, else `.shelves/` in the current
 * directory (created).
 */
export function defaultPmemPath(): string {
  return coreDefaultPmemPath();
}

/** The directory the pool goes to, created if missing. */
export function resolvePmemPath(cfg: ShelfBackendConfig = current): string {
  const dir = path.resolve(cfg.pmemPath ?? defaultPmemPath());
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
