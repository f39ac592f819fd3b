/** Error helpers: one {@link ShelfError} class (from @tsmm/native) with stable codes, messages that name the variable. */
import { ShelfError, type ShelfErrorCode } from '@tsmm/native';

export { ShelfError };
export type { ShelfErrorCode };

/** A new ShelfError with `code` and `message`. */
export function shelfError(code: ShelfErrorCode, message: string): ShelfError {
  return new ShelfError(code, message);
}

/** True when `e` is a ShelfError with `code`. */
export function isShelfError(e: unknown, code?: ShelfErrorCode): e is ShelfError {
  return e instanceof ShelfError && (code === undefined || e.code === code);
}

/**
 * Re-throw an engine error with `context` prepended to its message (same code, errno, syscall, path),
 * so that the message names the variable. Other errors are returned unchanged.
 */
export function withContext(e: unknown, context: string): unknown {
  if (e instanceof ShelfError) {
    const out = new ShelfError(e.code, `${context}: ${e.message}`, { errno: e.errno, syscall: e.syscall, path: e.path });
    return out;
  }
  return e;
}

/**
 * The type name used in `non-shelf type (name, TYPE)` messages: `typeof` for primitives and functions,
 * the constructor name for objects (`Object` for null-prototype objects).
 */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  const t = typeof v;
  if (t !== 'object') return t;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === null) return 'Object';
  const ctor = (proto as { constructor?: unknown }).constructor;
  if (typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '') return ctor.name;
  return 'object';
}

/** The ESHELF_TYPE error of an unsupported value, worded as in PyMM. */
export function nonShelfType(name: string, value: unknown): ShelfError {
  return new ShelfError('ESHELF_TYPE', `non-shelf type (${name}, ${typeName(value)}) cannot be put on the shelf`);
}
