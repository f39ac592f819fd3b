#include "format.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "util/crc32c.hpp"

namespace tsmm {
namespace fmt {

static const char kSuperMagic[8] = {'T', 'S', 'M', 'M', 'D', 'A', 'T', 'A'};
static const char kLogMagic[8] = {'T', 'S', 'M', 'M', '-', 'L', 'O', 'G'};
static const char kBatchMagic[4] = {'T', 'S', 'M', 'B'};

// newUuid -- 16 random bytes from getrandom (time-derived fallback).
Uuid newUuid() {
  Uuid u;
  if (getrandom(u.b, sizeof u.b, 0) != (ssize_t)sizeof u.b) {
    uint64_t t = (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count();
    uint64_t p = (uint64_t)getpid();
    memcpy(u.b, &t, 8);
    memcpy(u.b + 8, &p, 8);
  }
  return u;
}

// encodeSuper -- 4096 bytes, crc over [0,124) at 124, active half word at 128 left zero.
void encodeSuper(const Super& s, uint8_t out[kSuperSize]) {
  memset(out, 0, kSuperSize);
  memcpy(out, kSuperMagic, 8);
  wr32(out + 8, kVersion);
  wr32(out + 12, (uint32_t)kSuperSize);
  memcpy(out + 16, s.uuid.b, 16);
  wr32(out + 32, s.layout);
  wr64(out + 40, s.dataStart);
  wr64(out + 48, s.logOffset);
  wr64(out + 56, s.logHalf);
  wr64(out + 64, s.createdNs);
  wr32(out + 124, crc32c(0, out, 124));
}

// decodeSuper -- validate magic, version, crc and geometry.
bool decodeSuper(const uint8_t* p, size_t n, Super* s, std::string* why) {
  if (n < kSuperSize) { *why = "region shorter than its 4096-byte header"; return false; }
  if (memcmp(p, kSuperMagic, 8) != 0) { *why = "bad superblock magic (not a tsmm pool)"; return false; }
  if (rd32(p + 8) != kVersion) { *why = "unsupported format version " + std::to_string(rd32(p + 8)); return false; }
  if (rd32(p + 12) != kSuperSize) { *why = "bad superblock size"; return false; }
  if (crc32c(0, p, 124) != rd32(p + 124)) { *why = "superblock checksum mismatch"; return false; }
  memcpy(s->uuid.b, p + 16, 16);
  s->layout = rd32(p + 32);
  s->dataStart = rd64(p + 40);
  s->logOffset = rd64(p + 48);
  s->logHalf = rd64(p + 56);
  s->createdNs = rd64(p + 64);
  if (s->layout != kLayoutPair && s->layout != kLayoutSingle) { *why = "unknown layout"; return false; }
  if (s->dataStart % kPage != 0 || s->dataStart < kSuperSize) { *why = "bad data_start"; return false; }
  if (s->layout == kLayoutSingle) {
    uint64_t end;
    if (s->logOffset != kSuperSize || s->logHalf < kPage || s->logHalf % kPage != 0 || mulOver(s->logHalf, 2, &end) ||
        addOver(end, s->logOffset, &end) || end != s->dataStart) {
      *why = "bad log geometry";
      return false;
    }
  } else if (s->dataStart != kSuperSize || s->logOffset != 0 || s->logHalf != 0) {
    *why = "bad pair-layout geometry";
    return false;
  }
  return true;
}

// encodeLogHeader -- 64 bytes, crc over [0,60) at 60.
void encodeLogHeader(const LogHeader& h, uint8_t out[kLogHeaderSize]) {
  memset(out, 0, kLogHeaderSize);
  memcpy(out, kLogMagic, 8);
  wr32(out + 8, kVersion);
  wr32(out + 12, (uint32_t)kLogHeaderSize);
  memcpy(out + 16, h.uuid.b, 16);
  wr64(out + 32, h.epoch);
  wr64(out + 40, h.baseSeq);
  wr32(out + 60, crc32c(0, out, 60));
}

bool decodeLogHeader(const uint8_t* p, size_t n, LogHeader* h, std::string* why) {
  if (n < kLogHeaderSize) { *why = "index shorter than its 64-byte header"; return false; }
  if (memcmp(p, kLogMagic, 8) != 0) { *why = "bad index magic (not a tsmm index)"; return false; }
  if (rd32(p + 8) != kVersion) { *why = "unsupported index version " + std::to_string(rd32(p + 8)); return false; }
  if (rd32(p + 12) != kLogHeaderSize) { *why = "bad index header size"; return false; }
  if (crc32c(0, p, 60) != rd32(p + 60)) { *why = "index header checksum mismatch"; return false; }
  memcpy(h->uuid.b, p + 16, 16);
  h->epoch = rd64(p + 32);
  h->baseSeq = rd64(p + 40);
  if (h->epoch == 0) { *why = "index epoch 0"; return false; }
  return true;
}

// encodeBatch -- header, then each op padded to 8 bytes; crc over header[0,32) + payload.
uint32_t encodeBatch(const std::vector<Op>& ops, uint64_t seq, uint64_t epoch, uint32_t prevCrc,
                     std::vector<uint8_t>* out) {
  uint64_t payload = 0;
  for (const Op& op : ops) payload += opSize(op.name.size(), op.meta.size(), op.seq != 0);
  size_t start = out->size();
  out->resize(start + kBatchHeaderSize + payload, 0);
  uint8_t* h = out->data() + start;
  memcpy(h, kBatchMagic, 4);
  wr32(h + 4, (uint32_t)payload);
  wr64(h + 8, seq);
  wr64(h + 16, epoch);
  wr32(h + 24, (uint32_t)ops.size());
  wr32(h + 28, prevCrc);
  uint8_t* p = h + kBatchHeaderSize;
  for (const Op& op : ops) {
    p[0] = op.type;
    p[1] = op.seq ? kFlagSeq : 0;
    wr16(p + 2, (uint16_t)op.name.size());
    wr32(p + 4, (uint32_t)op.meta.size());
    wr64(p + 8, op.offset);
    wr64(p + 16, op.length);
    memcpy(p + kOpHeaderSize, op.name.data(), op.name.size());
    if (!op.meta.empty()) memcpy(p + kOpHeaderSize + op.name.size(), op.meta.data(), op.meta.size());
    if (op.seq) wr64(p + kOpHeaderSize + op.name.size() + op.meta.size(), op.seq);
    p += opSize(op.name.size(), op.meta.size(), op.seq != 0);
  }
  uint32_t c = crc32c(0, h, 32);
  c = crc32c(c, h + kBatchHeaderSize, payload);
  wr32(h + 32, c);
  return c;
}

// validUtf8Name -- strict UTF-8 validation of an entry name.
bool validUtf8Name(const std::string& s) {
  if (s.empty() || s.size() > kMaxName) return false;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) { i++; continue; }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    i += len;
  }
  return true;
}

// headerOk -- the fixed checks of a batch header that a torn write can fail.
static bool headerOk(const uint8_t* p, uint64_t avail, uint64_t epoch, uint64_t* payload) {
  if (avail < kBatchHeaderSize) return false;
  if (memcmp(p, kBatchMagic, 4) != 0) return false;
  uint64_t pl = rd32(p + 4);
  if (pl % 8 != 0 || pl > kMaxPayload || pl > avail - kBatchHeaderSize) return false;
  if (rd64(p + 16) != epoch) return false;
  if (rd32(p + 36) != 0) return false;
  uint32_t c = crc32c(0, p, 32);
  c = crc32c(c, p + kBatchHeaderSize, pl);
  if (c != rd32(p + 32)) return false;
  *payload = pl;
  return true;
}

// parseBatch -- see header.
Parse parseBatch(const uint8_t* p, uint64_t avail, uint64_t expectSeq, uint64_t epoch, uint32_t prevCrc,
                 ParsedBatch* out, std::string* why) {
  uint64_t payload = 0;
  if (!headerOk(p, avail, epoch, &payload)) return Parse::Torn;
  if (rd64(p + 8) != expectSeq || rd32(p + 28) != prevCrc) return Parse::Torn;
  out->seq = expectSeq;
  out->crc = rd32(p + 32);
  out->size = kBatchHeaderSize + payload;
  out->ops.clear();
  uint32_t nops = rd32(p + 24);
  // nops == 0 only for the compaction batch of an empty pool (payload 0)
  if ((nops == 0) != (payload == 0) || (uint64_t)nops > payload / kOpHeaderSize) { *why = "batch op count out of range"; return Parse::Corrupt; }
  out->ops.reserve(nops);
  const uint8_t* q = p + kBatchHeaderSize;
  uint64_t left = payload;
  for (uint32_t i = 0; i < nops; i++) {
    if (left < kOpHeaderSize) { *why = "op header past the end of its batch"; return Parse::Corrupt; }
    Op op;
    op.type = q[0];
    uint16_t nameLen = rd16(q + 2);
    uint32_t metaLen = rd32(q + 4);
    op.offset = rd64(q + 8);
    op.length = rd64(q + 16);
    if ((q[1] & ~kFlagSeq) != 0 || (q[1] && q[0] != kOpPut)) { *why = "unknown op flags"; return Parse::Corrupt; }
    bool withSeq = q[1] & kFlagSeq;
    if (op.type != kOpPut && op.type != kOpErase) { *why = "unknown op type " + std::to_string(q[0]); return Parse::Corrupt; }
    if (nameLen == 0 || nameLen > kMaxName) { *why = "entry name length out of range"; return Parse::Corrupt; }
    if (metaLen > kMaxMeta) { *why = "meta length out of range"; return Parse::Corrupt; }
    uint64_t sz = opSize(nameLen, metaLen, withSeq);
    if (sz > left) { *why = "op past the end of its batch"; return Parse::Corrupt; }
    if (withSeq) {
      op.seq = rd64(q + kOpHeaderSize + nameLen + metaLen);
      if (op.seq == 0 || op.seq > expectSeq) { *why = "op carries an impossible seq"; return Parse::Corrupt; }
    }
    op.name.assign(reinterpret_cast<const char*>(q + kOpHeaderSize), nameLen);
    if (!validUtf8Name(op.name)) { *why = "entry name is not valid UTF-8"; return Parse::Corrupt; }
    op.meta.assign(reinterpret_cast<const char*>(q + kOpHeaderSize + nameLen), metaLen);
    if (op.length > kMaxExtent || op.offset > kMaxExtent) { *why = "extent offset or length out of range"; return Parse::Corrupt; }
    if (op.type == kOpErase && (metaLen != 0 || op.offset != 0 || op.length != 0)) {
      *why = "erase op with an extent";
      return Parse::Corrupt;
    }
    for (uint64_t k = kOpHeaderSize + nameLen + metaLen + (withSeq ? 8 : 0); k < sz; k++) {
      if (q[k] != 0) { *why = "nonzero op padding"; return Parse::Corrupt; }
    }
    out->ops.push_back(std::move(op));
    q += sz;
    left -= sz;
  }
  if (left != 0) { *why = "trailing bytes in batch"; return Parse::Corrupt; }
  return Parse::Ok;
}

// looksLikeLaterBatch -- see header.
bool looksLikeLaterBatch(const uint8_t* p, uint64_t avail, uint64_t minSeq, uint64_t epoch) {
  uint64_t payload;
  if (!headerOk(p, avail, epoch, &payload)) return false;
  return rd64(p + 8) > minSeq;
}

}  // namespace fmt
}  // namespace tsmm
