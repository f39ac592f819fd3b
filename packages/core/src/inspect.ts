/**
 * Printing: the `inspect()` table of a shelf and the NumPy-style display of shelved arrays
 * (`shelved_ndarray([[75, 87, 59, ..., 27,  2, 33], ...])`).
 */
import * as util from 'node:util';
import type scijs = require('ndarray');

/** One variable of a shelf, as listed by `inspect()`. */
export interface ShelfRecord {
  /** Variable name. */
  name: string;
  /** Codec kind: `ndarray`, `typed`, `bytes`, `scalar`, `v8`, `tree`, or a registered kind such as `tfjs.tensor`. */
  kind: string;
  /** Element type for arrays (`int64`, …), the value type for scalars (`number`, …), `''` when none applies. */
  dtype: string;
  /** Dimensions for arrays, `[]` otherwise. */
  shape: number[];
  /** Bytes of shelf memory the variable occupies (0 for values kept in the meta alone). */
  bytes: number;
  /** Byte offset of its extent in the pool (0 when it has none). */
  offset: number;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** The records of `inspect()`: an array that prints as a table (console.log, util.inspect, String()). */
export class ShelfTable extends Array<ShelfRecord> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** The records as a text table, one line per variable. */
  override toString(): string {
    const head = ['name', 'kind', 'dtype', 'shape', 'bytes', 'offset'];
    const rows = this.map((r) => [r.name, r.kind, r.dtype, `[${r.shape.join(',')}]`, String(r.bytes), String(r.offset)]);
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]): string => r.map((c, i) => pad(c, w[i], i >= 4)).join('  ').trimEnd();
    return [line(head), ...rows.map(line)].join('\n');
  }

  [util.inspect.custom](): string {
    return this.length === 0 ? '(empty shelf)' : this.toString();
  }
}

const EDGE = 3;
const THRESHOLD = 1000;

function fmtScalar(v: unknown, dtype: string): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (dtype.startsWith('float') && Number.isInteger(v)) return `${v}.`;
    return String(v);
  }
  return String(v);
}

/**
 * NumPy-style text of an ndarray: `label([[1, 2], [3, 4]])`, eliding the middle of axes longer than 6 when the array has
 * more than 1000 elements, and naming the dtype unless it is int64 or float64.
 */
export function formatNdarray(arr: scijs.NdArray<any>, label: string, _opts?: util.InspectOptions): string {
  const shape = arr.shape;
  const size = shape.reduce((a: number, b: number) => a * b, 1);
  const dtype = (arr.data as { dtype?: string })?.dtype ?? String(arr.dtype);
  const dt = dtype === 'bigint64' ? 'int64' : dtype === 'biguint64' ? 'uint64' : dtype;
  const summarize = size > THRESHOLD;
  const idxOf = (n: number): Array<number | null> => {
    if (!summarize || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
    return [0, 1, 2, null, n - 3, n - 2, n - 1];
  };
  // First pass: the strings of every shown element, for the column width.
  let width = 1;
  const visit = (idx: number[], d: number, f: (idx: number[]) => void): void => {
    if (d === shape.length) { f(idx); return; }
    for (const i of idxOf(shape[d])) if (i !== null) visit([...idx, i], d + 1, f);
  };
  if (size > 0) visit([], 0, (idx) => { width = Math.max(width, fmtScalar(arr.get(...idx), dt).length); });
  const indent = ' '.repeat(label.length + 1);
  const render = (idx: number[], d: number): string => {
    if (d === shape.length) return pad(fmtScalar(arr.get(...idx), dt), width, true);
    const parts = idxOf(shape[d]).map((i) => (i === null ? '...' : render([...idx, i], d + 1)));
    if (d === shape.length - 1) return `[${parts.join(', ')}]`;
    const sep = `,${'\n'.repeat(shape.length - d - 1)}${indent}${' '.repeat(d + 1)}`;
    return `[${parts.join(sep)}]`;
  };
  const body = shape.length === 0 ? fmtScalar(arr.get(), dt) : size === 0 ? `[], shape=(${shape.join(', ')})` : render([], 0);
  const dsuffix = dt === 'int64' || dt === 'float64' ? '' : `, dtype=${dt}`;
  return `${label}(${body}${dsuffix})`;
}
