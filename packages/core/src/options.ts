/**
 * Options of {@link shelf} and where shelves live.
 *
 * Default directory (`pmemPath`): `$TSMM_PMEM_PATH` when set, else `/mnt/pmem0` when it exists and is writable, else
 * `.shelves/` in the current directory (created on first use), so that a new user without persistent memory gets a working
 * shelf with no setup.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Options of {@link shelf}. */
export interface ShelfOptions {
  /** Capacity in MiB (2^20 bytes). Required to create a shelf; ignored when re-opening one (use `grow()` to enlarge). */
  sizeMb?: number;
  /** Directory holding the shelf files `NAME.data` and `NAME.map`. Default: see the module doc. */
  pmemPath?: string;
  /** Erase any existing shelf of this name and create a new, empty one (needs `sizeMb`). Default `false`. */
  forceNew?: boolean;
  /**
   * Open read-only with a shared lock (any number of readers next to one writer). Every write is `ESHELF_READONLY`.
   * The views handed out are copy-on-write: a store through one stays in this process and never reaches the shelf.
   * Default `false`.
   */
  readOnly?: boolean;
}

/** The options after validation, with the directory resolved. */
export interface ResolvedOptions {
  sizeBytes: number | undefined;
  pmemPath: string;
  forceNew: boolean;
  readOnly: boolean;
}

const KNOWN = ['sizeMb', 'pmemPath', 'forceNew', 'readOnly'] as const;
const MIB = 2 ** 20;

function squash(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** The known option closest to `k`, if any is close. */
function suggest(k: string): string | undefined {
  const sq = squash(k);
  for (const known of KNOWN) if (squash(known) === sq) return known;
  let best: string | undefined;
  let bestD = 4;
  for (const known of KNOWN) {
    const dd = distance(sq, squash(known));
    if (dd < bestD) { bestD = dd; best = known; }
  }
  return best;
}

/** Size in MiB -> bytes; RangeError unless a positive finite number. */
export function mibToBytes(option: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`Expected the "${option}" option to be a positive number of MiB, got ${String(v)}`);
  }
  const bytes = Math.ceil(v * MIB);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`The "${option}" option ${v} is too large`);
  return bytes;
}

/** The directory shelves live in when `pmemPath` is not given (created when it is `.shelves/`). */
export function defaultPmemPath(): string {
  const env = process.env.TSMM_PMEM_PATH;
  if (env !== undefined && env !== '') return env;
  try {
    if (fs.statSync('/mnt/pmem0').isDirectory()) {
      fs.accessSync('/mnt/pmem0', fs.constants.W_OK);
      return '/mnt/pmem0';
    }
  } catch {
    // not there or not writable: fall through
  }
  const local = path.resolve('.shelves');
  fs.mkdirSync(local, { recursive: true, mode: 0o700 });
  return local;
}

/** Validate the options of {@link shelf}. Unknown or misspelled options are a TypeError naming the option. */
export function parseOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('Expected the options to be an object');
  }
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(KNOWN as readonly string[]).includes(k)) {
      const s = suggest(k);
      throw new TypeError(`Unknown option "${k}"${s !== undefined ? ` (did you mean "${s}"?)` : ''}; expected one of: ${KNOWN.join(', ')}`);
    }
  }
  const bool = (k: string): boolean => {
    const v = o[k];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw new TypeError(`Expected the "${k}" option to be a boolean, got ${typeof v}`);
    return v;
  };
  const forceNew = bool('forceNew');
  const readOnly = bool('readOnly');
  if (forceNew && readOnly) throw new TypeError('The "forceNew" and "readOnly" options cannot be combined');
  const sizeBytes = o.sizeMb === undefined ? undefined : mibToBytes('sizeMb', o.sizeMb);
  if (forceNew && sizeBytes === undefined) throw new TypeError('The "forceNew" option needs the "sizeMb" option');
  let pmemPath: string;
  if (o.pmemPath === undefined) pmemPath = defaultPmemPath();
  else if (typeof o.pmemPath !== 'string' || o.pmemPath.length === 0) {
    throw new TypeError('Expected the "pmemPath" option to be a non-empty string');
  } else pmemPath = o.pmemPath;
  return { sizeBytes, pmemPath, forceNew, readOnly };
}
