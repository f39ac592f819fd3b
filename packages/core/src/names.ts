/**
 * Names: shelf (pool) names and variable names.
 *
 * A variable name is 1–255 bytes of well-formed UTF-8, does not start with `.` (those names are internal: `.tx/…`), and is
 * not a member of the shelf — any name found on the `Shelf` prototype chain (`items`, `erase`, `close`, …, the members of
 * `Object.prototype`, and members other packages add, such as tfjs-backend's `variable`).
 */
import { MAX_NAME_BYTES, ShelfError } from '@tsmm/native';

/** Prefix of internal entry names. */
export const INTERNAL_PREFIX = '.';

/** The members of `proto` and its chain up to (not including) Object.prototype, sorted. */
export function memberNames(proto: object): string[] {
  const out = new Set<string>();
  for (let p: object | null = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== 'constructor') out.add(k);
  }
  return [...out].sort();
}

/** Why `name` cannot be a variable name, or null when it can. `proto` is the Shelf prototype. */
export function variableNameProblem(name: unknown, proto: object): string | null {
  if (typeof name !== 'string') return `variable names are strings, got ${typeof name}`;
  if (name.length === 0) return 'variable names cannot be empty';
  if (name.startsWith(INTERNAL_PREFIX)) return `variable names cannot start with "." (reserved for internal entries): ${JSON.stringify(name)}`;
  if (/\p{Surrogate}/u.test(name)) return `variable name is not valid UTF-8 (lone surrogate): ${JSON.stringify(name)}`;
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) return `variable name is ${bytes} bytes of UTF-8, more than ${MAX_NAME_BYTES}: ${JSON.stringify(name.slice(0, 40))}...`;
  if (name in proto) {
    return `'${name}' is a member of the shelf and cannot be used as a variable name ` +
      `(reserved: ${memberNames(proto).join(', ')}, and the members of Object.prototype)`;
  }
  return null;
}

/** Throw ESHELF_NAME (TypeError for non-strings) unless `name` can be a variable name. */
export function checkVariableName(name: unknown, proto: object): asserts name is string {
  if (typeof name !== 'string') throw new TypeError(`Expected the variable name to be a string, got ${typeof name}`);
  const p = variableNameProblem(name, proto);
  if (p !== null) throw new ShelfError('ESHELF_NAME', p);
}

/** Throw unless `name` can name a shelf: a non-empty string without `/`, `\` or NUL, not `.` or `..`. */
export function checkShelfName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new TypeError(`Expected the shelf name to be a string, got ${typeof name}`);
  if (name.length === 0 || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new ShelfError('ESHELF_NAME', `shelf names cannot be empty, "." or "..", or contain "/", "\\" or NUL: ${JSON.stringify(name)}`);
  }
}
