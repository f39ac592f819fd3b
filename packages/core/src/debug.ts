/**
 * Debug logging for @tsmm/core, controlled by `TSMM_DEBUG` (the same variable the native engine reads).
 *
 * - `TSMM_DEBUG=1`: opens, closes, recoveries, transactions.
 * - `TSMM_DEBUG=2`: plus every commit, put, replace and erase.
 * - `TSMM_DEBUG=3`: plus reads (cache hits and decodes) and persists.
 *
 * Lines go to stderr as `tsmm:core[pid] message`.
 */

function parseLevel(v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.min(n, 3);
}

let level = parseLevel(process.env.TSMM_DEBUG);

/** The core debug level in force (0–3). Pass a number to change it for this process. */
export function coreDebugLevel(newLevel?: number): number {
  if (newLevel !== undefined) {
    if (!Number.isInteger(newLevel) || newLevel < 0 || newLevel > 3) {
      throw new RangeError(`Expected the debug level to be an integer from 0 to 3, got ${String(newLevel)}`);
    }
    level = newLevel;
  }
  return level;
}

/** True when messages of `lvl` are printed. Use it to skip building expensive messages. */
export function debugOn(lvl: number): boolean {
  return level >= lvl;
}

/** Print `message` to stderr when the debug level is at least `lvl`. */
export function debug(lvl: number, message: string): void {
  if (level >= lvl) process.stderr.write(`tsmm:core[${process.pid}] ${message}\n`);
}
