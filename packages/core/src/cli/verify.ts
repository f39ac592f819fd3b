/**
 * `tsmm verify <shelf>`: check a shelf without changing it.
 *
 * 1. The superblock of `NAME.data` (magic, version, CRC32C) and the index log of `NAME.map`, walked batch by batch as
 *    docs/FORMAT.md describes (magic, epoch, seq chain, prev-crc chain, CRC32C of every batch). Bytes after the last valid
 *    batch are a torn, never-acknowledged append: reported as a warning, not corruption (recovery ignores them).
 * 2. A read-only open: the engine replays the log and checks every extent (alignment, bounds, overlaps, middle-of-log
 *    damage); its ESHELF_CORRUPT message is reported as is.
 * 3. Every entry: its meta decodes, and its value decodes with its codec (headers consistent with extents); kinds with no
 *    codec in this process are checked as far as their raw layout allows. An interrupted transaction is a warning (the next
 *    writable open rolls it back) unless its undo records do not match their variables (corrupt).
 */
import * as fs from 'node:fs';
import { crc32c, ShelfError } from '@tsmm/native';
import { decodeMeta } from '../meta';
import { shelf, coreOf } from '../shelf';
import { TX_ACTIVE, TX_PREFIX } from '../tx';
import { arraySource, ARRAY_KINDS } from '../interop/common';

/** What verify found. */
export interface VerifyReport {
  shelf: string;
  /** True when no problem was found (warnings allowed). */
  ok: boolean;
  /** Corruption: each a sentence naming the file, batch or entry. */
  problems: string[];
  /** Not corruption, but worth knowing (torn tail, interrupted transaction, unchecked kinds). */
  warnings: string[];
  /** What was checked and found sound. */
  checks: string[];
  /** Entries checked, by kind. */
  kinds: Record<string, number>;
}

const LOG_HEADER = 64;
const BATCH_HEADER = 40;
const SUPER_BYTES = 4096;

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** Check the superblock of the pair layout's data file. Returns its uuid or null. */
function checkSuperblock(dataPath: string, r: VerifyReport): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(dataPath, 'r');
  } catch (e) {
    r.problems.push(`${dataPath}: cannot be opened (${(e as Error).message})`);
    return null;
  }
  try {
    const sb = Buffer.alloc(SUPER_BYTES);
    const n = fs.readSync(fd, sb, 0, SUPER_BYTES, 0);
    if (n < 128) { r.problems.push(`${dataPath}: only ${n} bytes, shorter than the superblock`); return null; }
    if (sb.toString('latin1', 0, 8) !== 'TSMMDATA') { r.problems.push(`${dataPath}: superblock magic is ${JSON.stringify(sb.toString('latin1', 0, 8))}, expected "TSMMDATA"`); return null; }
    const version = sb.readUInt32LE(8);
    const stored = sb.readUInt32LE(124);
    const actual = crc32c(sb.subarray(0, 124));
    if (stored !== actual) { r.problems.push(`${dataPath}: superblock crc is ${hex(stored)}, its bytes give ${hex(actual)}`); return null; }
    if (version !== 1) { r.problems.push(`${dataPath}: superblock version ${version}, this build reads version 1`); return null; }
    r.checks.push(`superblock: magic, version ${version}, crc ${hex(stored)}`);
    return Buffer.from(sb.subarray(16, 32));
  } finally {
    fs.closeSync(fd);
  }
}

/** Walk the index log of `mapPath` batch by batch. Returns the byte length of its valid part, or -1. */
function checkLog(mapPath: string, uuid: Buffer | null, r: VerifyReport): number {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(mapPath);
  } catch (e) {
    r.problems.push(`${mapPath}: cannot be read (${(e as Error).message})`);
    return -1;
  }
  if (buf.length < LOG_HEADER) { r.problems.push(`${mapPath}: ${buf.length} bytes, shorter than the 64-byte log header`); return -1; }
  if (buf.toString('latin1', 0, 8) !== 'TSMM-LOG') { r.problems.push(`${mapPath}: log magic is ${JSON.stringify(buf.toString('latin1', 0, 8))}, expected "TSMM-LOG"`); return -1; }
  const hdrCrc = buf.readUInt32LE(60);
  if (crc32c(buf.subarray(0, 60)) !== hdrCrc) { r.problems.push(`${mapPath}: log header crc is ${hex(hdrCrc)}, its bytes give ${hex(crc32c(buf.subarray(0, 60)))}`); return -1; }
  if (uuid !== null && !buf.subarray(16, 32).equals(uuid)) { r.problems.push(`${mapPath}: the index belongs to another pool (uuid differs from the superblock's)`); return -1; }
  const epoch = buf.readBigUInt64LE(32);
  const baseSeq = buf.readBigUInt64LE(40);
  let pos = LOG_HEADER;
  let seq = baseSeq;
  let prev = hdrCrc;
  let batches = 0;
  let ops = 0;
  let stop = '';
  while (pos < buf.length) {
    if (pos + BATCH_HEADER > buf.length) { stop = `${buf.length - pos} bytes, shorter than a batch header`; break; }
    const h = buf.subarray(pos, pos + BATCH_HEADER);
    const len = h.readUInt32LE(4);
    if (h.toString('latin1', 0, 4) !== 'TSMB') { stop = 'no batch magic'; break; }
    if (h.readBigUInt64LE(16) !== epoch) { stop = `epoch ${h.readBigUInt64LE(16)}, the log's is ${epoch}`; break; }
    if (h.readBigUInt64LE(8) !== seq + 1n) { stop = `seq ${h.readBigUInt64LE(8)}, expected ${seq + 1n}`; break; }
    if (h.readUInt32LE(28) !== prev) { stop = `prev_crc ${hex(h.readUInt32LE(28))} does not chain to ${hex(prev)}`; break; }
    if (len % 8 !== 0 || pos + BATCH_HEADER + len > buf.length) { stop = `payload of ${len} bytes does not fit the file`; break; }
    const crc = crc32c(buf.subarray(pos + BATCH_HEADER, pos + BATCH_HEADER + len), crc32c(h.subarray(0, 32)));
    if (crc !== h.readUInt32LE(32)) { stop = `crc ${hex(h.readUInt32LE(32))}, its bytes give ${hex(crc)}`; break; }
    prev = crc;
    seq += 1n;
    batches++;
    ops += h.readUInt32LE(24);
    pos += BATCH_HEADER + len;
  }
  const range = batches > 0 ? `seq ${baseSeq + 1n}..${seq}` : `no batches since seq ${baseSeq}`;
  r.checks.push(`index log: ${batches} batch${batches === 1 ? '' : 'es'} (${range}, epoch ${epoch}, ${ops} ops), every checksum matches`);
  const later = pos < buf.length ? laterBatch(buf, pos, epoch, seq) : null;
  if (later !== null) {
    r.problems.push(`${mapPath}: the batch at byte ${pos} (after seq ${seq}) is damaged (${stop}) but a valid batch ` +
      `(seq ${later.seq}) follows at byte ${later.pos}: damage in the middle of the log, not a torn append`);
  } else if (pos < buf.length) {
    r.warnings.push(`${mapPath}: the last ${buf.length - pos} bytes (from byte ${pos}, after seq ${seq}) are not a valid batch ` +
      `(${stop}): a torn append that was never acknowledged; readers ignore it and the next writable open cuts it off`);
  }
  if (fs.existsSync(`${mapPath}.compact`)) r.warnings.push(`${mapPath}.compact: an unfinished compaction; the next writable open deletes it`);
  return pos;
}

/** A checksummed batch of `epoch` with a seq above `seq` at an 8-aligned position after `from`, or null. */
function laterBatch(buf: Buffer, from: number, epoch: bigint, seq: bigint): { pos: number; seq: bigint } | null {
  for (let p = from + 8; p + BATCH_HEADER <= buf.length; p += 8) {
    if (buf[p] !== 0x54 || buf.toString('latin1', p, p + 4) !== 'TSMB') continue;
    const h = buf.subarray(p, p + BATCH_HEADER);
    const len = h.readUInt32LE(4);
    if (h.readBigUInt64LE(16) !== epoch || h.readBigUInt64LE(8) <= seq || len % 8 !== 0 || p + BATCH_HEADER + len > buf.length) continue;
    if (crc32c(buf.subarray(p + BATCH_HEADER, p + BATCH_HEADER + len), crc32c(h.subarray(0, 32))) === h.readUInt32LE(32)) {
      return { pos: p, seq: h.readBigUInt64LE(8) };
    }
  }
  return null;
}

/** Verify the shelf at `dir/name`. Never throws for corruption: it is reported. Throws ESHELF_NOT_FOUND when absent. */
export function verifyShelf(dir: string, name: string, label: string): VerifyReport {
  const base = `${dir}/${name}`;
  const r: VerifyReport = { shelf: label, ok: false, problems: [], warnings: [], checks: [], kinds: {} };
  const dataPath = `${base}.data`;
  const mapPath = `${base}.map`;
  const hasData = fs.existsSync(dataPath);
  const hasMap = fs.existsSync(mapPath);
  if (!hasData && !hasMap) throw new ShelfError('ESHELF_NOT_FOUND', `no shelf at ${label} (neither ${dataPath} nor ${mapPath} exists)`);
  if (!hasData) r.problems.push(`${dataPath} is missing (its index ${mapPath} exists)`);
  if (!hasMap) r.problems.push(`${mapPath} is missing (its data ${dataPath} exists)`);
  const uuid = hasData ? checkSuperblock(dataPath, r) : null;
  const logBytes = hasMap ? checkLog(mapPath, uuid, r) : -1;
  let s;
  try {
    s = shelf(name, { pmemPath: dir, readOnly: true });
  } catch (e) {
    if (e instanceof ShelfError && e.code === 'ESHELF_CORRUPT') {
      if (!r.problems.some((p) => p.includes(e.message))) r.problems.push(`engine: ${e.message}`);
      r.ok = false;
      return r;
    }
    if (r.problems.length > 0) return r;
    throw e;
  }
  try {
    const core = coreOf(s);
    const st = core.pool.stats();
    r.checks.push(`engine replay: ${st.entries} entries at seq ${st.seq}; extents aligned, in bounds, not overlapping`);
    if (logBytes >= 0 && logBytes !== st.logBytes) {
      r.problems.push(`${mapPath}: the engine replayed ${st.logBytes} bytes of log but ${logBytes} bytes form valid batches`);
    }
    checkEntries(core, r);
  } finally {
    s.close();
  }
  r.ok = r.problems.length === 0;
  return r;
}

function checkEntries(core: ReturnType<typeof coreOf>, r: VerifyReport): void {
  const entries = core.pool.entries('');
  let checked = 0;
  for (const e of entries) {
    if (e.name.startsWith(TX_PREFIX)) continue;
    let kind: string;
    try {
      kind = decodeMeta(e.meta, `'${e.name}'`).kind;
    } catch (err) {
      r.problems.push(`entry '${e.name}': ${(err as Error).message}`);
      continue;
    }
    r.kinds[kind] = (r.kinds[kind] ?? 0) + 1;
    checked++;
    try {
      core.decode(e.name, e);
    } catch (err) {
      if (!(err instanceof ShelfError) || err.code !== 'ESHELF_TYPE') {
        r.problems.push(`entry '${e.name}' (${kind}): ${(err as Error).message}`);
        continue;
      }
      if (ARRAY_KINDS.includes(kind)) {
        try {
          arraySource(core, e.name);
          continue;
        } catch (err2) {
          if (err2 instanceof ShelfError && err2.code === 'ESHELF_CORRUPT') {
            r.problems.push(`entry '${e.name}' (${kind}): ${err2.message}`);
            continue;
          }
        }
      }
      if (e.length > 0) r.warnings.push(`entry '${e.name}': kind '${kind}' has no codec in this process, so only its meta was checked`);
    }
  }
  r.checks.push(`entries: ${checked} decoded (${Object.entries(r.kinds).map(([k, n]) => `${n} ${k}`).join(', ') || 'none'})`);
  checkTx(core, r);
}

function checkTx(core: ReturnType<typeof coreOf>, r: VerifyReport): void {
  const internal = core.pool.names(TX_PREFIX);
  if (internal.length === 0) return;
  if (!internal.includes(TX_ACTIVE)) {
    r.warnings.push(`${internal.length} leftover transaction entries without ${TX_ACTIVE}; the next writable open erases them`);
    return;
  }
  const names: string[] = [];
  for (const n of internal) {
    if (n === TX_ACTIVE) continue;
    const u = core.pool.get(n)!;
    let header: Record<string, unknown>;
    let kind: string;
    try {
      ({ kind, header } = decodeMeta(u.meta, `'${n}'`));
    } catch (err) {
      r.problems.push(`transaction entry '${n}': ${(err as Error).message}`);
      continue;
    }
    const target = typeof header.name === 'string' ? core.pool.get(header.name) : null;
    if (kind !== 'tx.undo' || target === null || target.offset !== header.offset || target.length !== header.length || u.length !== target.length) {
      r.problems.push(`undo entry '${n}' (${JSON.stringify(header)}) does not match its variable: the interrupted transaction cannot be rolled back`);
      continue;
    }
    names.push(header.name as string);
  }
  r.warnings.push(`an interrupted transaction over ${names.map((n) => `'${n}'`).join(', ') || 'no variables'}: ` +
    'the next writable open rolls it back (those variables may be mid-change until then)');
}
