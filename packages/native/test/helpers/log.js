'use strict';
// Reading and crafting index-log bytes for the recovery tests. Mirrors packages/native/src/format.hpp
// (docs/FORMAT.md): little-endian; log header 64 B ("TSMM-LOG", version, header size, uuid, epoch @32,
// base_seq @40, crc @60); batch header 40 B ("TSMB", payload_len @4, seq @8, epoch @16, nops @24,
// prev_crc @28, crc @32 over header[0,32) + payload, zero @36); op 24 B + name + meta, padded to 8
// (type, flags, name_len u16, meta_len u32, offset u64, length u64; flag 1: u64 seq after the meta). Superblock: 4096 B at region
// offset 0; single layout: log_offset @48, log_half @56, active half u64 @128.
// If the format changes, change this file (and only this file).
const { crc32c } = require('./index');

const LOG_HEADER = 64;
const BATCH_HEADER = 40;
const OP_PUT = 1;
const OP_ERASE = 2;
const FLAG_SEQ = 1; // op flag: 8-byte original seq follows name+meta (written by compaction)

/** Parse the log starting at `start` in `buf`: header fields and the chain of valid batches. */
function parseLog(buf, start = 0) {
  if (buf.length < start + LOG_HEADER || buf.toString('latin1', start, start + 8) !== 'TSMM-LOG') {
    throw new Error(`no log header at ${start}`);
  }
  const epoch = buf.readBigUInt64LE(start + 32);
  const baseSeq = buf.readBigUInt64LE(start + 40);
  let prevCrc = buf.readUInt32LE(start + 60);
  let seq = baseSeq + 1n;
  let pos = start + LOG_HEADER;
  const batches = [];
  for (;;) {
    if (pos + BATCH_HEADER > buf.length) break;
    if (buf.toString('latin1', pos, pos + 4) !== 'TSMB') break;
    const payload = buf.readUInt32LE(pos + 4);
    if (pos + BATCH_HEADER + payload > buf.length) break;
    if (buf.readBigUInt64LE(pos + 8) !== seq || buf.readBigUInt64LE(pos + 16) !== epoch) break;
    if (buf.readUInt32LE(pos + 28) !== prevCrc) break;
    let c = crc32c(buf.subarray(pos, pos + 32));
    c = crc32c(buf.subarray(pos + BATCH_HEADER, pos + BATCH_HEADER + payload), c);
    if (c !== buf.readUInt32LE(pos + 32)) break;
    batches.push({ start: pos, end: pos + BATCH_HEADER + payload, seq: Number(seq), crc: c });
    prevCrc = c;
    seq += 1n;
    pos += BATCH_HEADER + payload;
  }
  return { start, epoch, baseSeq, headerCrc: buf.readUInt32LE(start + 60), batches, end: pos };
}

/**
 * Encode one batch. ops: { type: 1|2, name: string|Buffer, meta?: Buffer, offset?: bigint|number, length?: bigint|number,
 * seq? (appended, sets flag 1), flags? (overrides), metaLen? (overrides) }. `nops` overrides the op count in the header.
 */
function encodeBatch(ops, seq, epoch, prevCrc, { nops } = {}) {
  const parts = ops.map((op) => {
    const name = Buffer.isBuffer(op.name) ? op.name : Buffer.from(op.name, 'utf8');
    const meta = op.meta || Buffer.alloc(0);
    const withSeq = op.seq !== undefined;
    const size = (24 + name.length + meta.length + (withSeq ? 8 : 0) + 7) & ~7;
    const b = Buffer.alloc(size);
    b[0] = op.type;
    b[1] = op.flags ?? (withSeq ? FLAG_SEQ : 0);
    b.writeUInt16LE(name.length, 2);
    b.writeUInt32LE(op.metaLen ?? meta.length, 4);
    b.writeBigUInt64LE(BigInt(op.offset || 0), 8);
    b.writeBigUInt64LE(BigInt(op.length || 0), 16);
    name.copy(b, 24);
    meta.copy(b, 24 + name.length);
    if (withSeq) b.writeBigUInt64LE(BigInt(op.seq), 24 + name.length + meta.length);
    return b;
  });
  const payload = Buffer.concat(parts);
  const h = Buffer.alloc(BATCH_HEADER);
  h.write('TSMB', 0, 'latin1');
  h.writeUInt32LE(payload.length, 4);
  h.writeBigUInt64LE(BigInt(seq), 8);
  h.writeBigUInt64LE(BigInt(epoch), 16);
  h.writeUInt32LE(nops ?? ops.length, 24);
  h.writeUInt32LE(prevCrc >>> 0, 28);
  let c = crc32c(h.subarray(0, 32));
  c = crc32c(payload, c);
  h.writeUInt32LE(c, 32);
  return Buffer.concat([h, payload]);
}

/** Single layout: where the active log half starts, from the superblock. */
function singleLogStart(file) {
  const logOffset = Number(file.readBigUInt64LE(48));
  const logHalf = Number(file.readBigUInt64LE(56));
  const active = Number(file.readBigUInt64LE(128));
  return { logOffset, logHalf, active, start: logOffset + active * logHalf };
}

module.exports = { LOG_HEADER, BATCH_HEADER, OP_PUT, OP_ERASE, FLAG_SEQ, parseLog, encodeBatch, singleLogStart };
