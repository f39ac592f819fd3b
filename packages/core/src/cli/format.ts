/** Output helpers of the `tsmm` CLI: sizes, tables, errors, exit codes, progress bars. */
import { ShelfError } from '@tsmm/native';
import * as cliProgress from 'cli-progress';

/** Exit codes (stable: scripts may test them). */
export const EXIT = Object.freeze({
  /** Success; for `verify`, the shelf is sound (warnings may have been printed). */
  OK: 0,
  /** The shelf (or an input file) is corrupt: `verify` found a problem, or an ESHELF_CORRUPT error. */
  CORRUPT: 1,
  /** Bad command line: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /** The shelf, variable or file does not exist (ESHELF_NOT_FOUND). */
  NOT_FOUND: 3,
  /** Another process holds the shelf (ESHELF_LOCKED, ESHELF_BUSY). */
  LOCKED: 4,
  /** Any other failure (ESHELF_FULL, ESHELF_EXISTS, ESHELF_TYPE, ESHELF_IO, ESHELF_READONLY, ...). */
  FAILED: 5,
});

/** A command-line mistake: printed with the usage hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The exit code for an error. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT.USAGE;
  if (e instanceof ShelfError) {
    switch (e.code) {
      case 'ESHELF_CORRUPT': return EXIT.CORRUPT;
      case 'ESHELF_NOT_FOUND': return EXIT.NOT_FOUND;
      case 'ESHELF_LOCKED': case 'ESHELF_BUSY': return EXIT.LOCKED;
      default: return EXIT.FAILED;
    }
  }
  if (e instanceof TypeError || e instanceof RangeError) return EXIT.USAGE;
  return EXIT.FAILED;
}

/** `1.5 MiB`-style size. */
export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1).replace(/\.0$/, '') : v.toFixed(2).replace(/\.?0+$/, '')} ${units[i]}`;
}

/** A text table: `rows` under `head`, columns padded; columns listed in `right` are right-aligned. */
export function table(head: string[], rows: string[][], right: number[] = []): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (right.includes(i) ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** Shape as `[2,3]` (`[]` for scalars). */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Bytes under which no progress bar is shown (unless forced). */
export const PROGRESS_MIN_BYTES = 32 * 2 ** 20;

/**
 * A progress callback drawing a cli-progress bar on stderr, or a no-op. `mode`: 'auto' draws on a terminal for
 * operations of at least {@link PROGRESS_MIN_BYTES}; 'always' draws even when stderr is not a terminal (final state only);
 * 'never' draws nothing.
 */
export function progressBar(label: string, mode: 'auto' | 'always' | 'never'): { onProgress: (done: number, total: number) => void; stop(): void } {
  let bar: cliProgress.SingleBar | null = null;
  let started = false;
  const want = (total: number): boolean => {
    if (mode === 'never') return false;
    if (mode === 'always') return true;
    return process.stderr.isTTY === true && total >= PROGRESS_MIN_BYTES;
  };
  return {
    onProgress(done, total) {
      if (!started) {
        started = true;
        if (!want(total)) return;
        bar = new cliProgress.SingleBar({
          format: `${label} [{bar}] {percentage}% | {done} of {size} | {duration_formatted}`,
          stream: process.stderr,
          noTTYOutput: mode === 'always',
          hideCursor: true,
          clearOnComplete: false,
          barsize: 30,
        }, cliProgress.Presets.shades_classic);
        bar.start(Math.max(1, total), 0, { done: fmtBytes(0), size: fmtBytes(total) });
      }
      bar?.update(total === 0 ? 1 : done, { done: fmtBytes(done), size: fmtBytes(total) });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
