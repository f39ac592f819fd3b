// format.hpp -- the on-disk format, byte for byte (docs/FORMAT.md is the prose version of this file).
//
// All integers are little-endian. Offsets of extents are relative to the start of the region
// (the .data file in the pair layout, the whole file/device in the single layout).
//
//   superblock (4096 B at region offset 0)   magic "TSMMDATA", version, uuid, layout, data_start, log geometry, crc
//   log header (64 B)                         magic "TSMM-LOG", version, uuid, epoch, base_seq, crc
//   batch header (40 B) + ops                 magic "TSMB", payload_len, seq, epoch, nops, prev_crc, crc
//   op (24 B + name + meta, padded to 8)      type, flags, name_len, meta_len, offset, length
//
// Invariant of the commit protocol: the bytes of every extent a batch names are durable
// before the batch is written; a batch is durable before commit() returns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tsmm {
namespace fmt {

constexpr uint32_t kVersion = 1;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kMinAlign = 64;
constexpr uint64_t kSuperSize = 4096;      // superblock, reserved head of every region
constexpr uint64_t kActiveHalfOff = 128;   // u64 in the superblock: active log half (single layout)
constexpr uint64_t kLogHeaderSize = 64;
constexpr uint64_t kBatchHeaderSize = 40;
constexpr uint64_t kOpHeaderSize = 24;
constexpr uint32_t kMaxName = 255;
constexpr uint32_t kMaxMeta = 1u << 20;
constexpr uint64_t kMaxPayload = 1ull << 30;  // one batch
constexpr uint64_t kMaxView = 1ull << 32;     // Node 20's cap on one external ArrayBuffer
constexpr uint32_t kLayoutPair = 1;
constexpr uint32_t kLayoutSingle = 2;
constexpr uint8_t kOpPut = 1;
constexpr uint8_t kOpErase = 2;

// --- checked arithmetic: every offset/length read from a file goes through these -----------
inline bool addOver(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }
inline bool mulOver(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
constexpr uint64_t kMaxExtent = 1ull << 56;  // no extent is longer (64 PiB): rejects hostile lengths early
// alignUp -- v rounded up to a multiple of a; callers keep v <= kMaxExtent (or another bound far below 2^64).
inline uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
inline uint64_t pad8(uint64_t v) { return (v + 7) & ~7ull; }

// little-endian access (x86-64 and aarch64 are LE; memcpy keeps it alignment-safe)
inline uint32_t rd32(const uint8_t* p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
inline uint64_t rd64(const uint8_t* p) { uint64_t v; __builtin_memcpy(&v, p, 8); return v; }
inline uint16_t rd16(const uint8_t* p) { uint16_t v; __builtin_memcpy(&v, p, 2); return v; }
inline void wr32(uint8_t* p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
inline void wr64(uint8_t* p, uint64_t v) { __builtin_memcpy(p, &v, 8); }
inline void wr16(uint8_t* p, uint16_t v) { __builtin_memcpy(p, &v, 2); }

struct Uuid {
  uint8_t b[16] = {};
  bool operator==(const Uuid& o) const { return __builtin_memcmp(b, o.b, 16) == 0; }
  bool operator!=(const Uuid& o) const { return !(*this == o); }
};
Uuid newUuid();

// Superblock: bytes [0,124) covered by the crc at 124; the active-half word at 128 is not.
struct Super {
  Uuid uuid;
  uint32_t layout = kLayoutPair;
  uint64_t dataStart = kSuperSize;
  uint64_t logOffset = 0;    // single layout: region offset of log half 0
  uint64_t logHalf = 0;      // single layout: bytes of each half
  uint64_t createdNs = 0;
};
void encodeSuper(const Super& s, uint8_t out[kSuperSize]);
// decodeSuper -- false with `why` set when the bytes are not a valid superblock.
bool decodeSuper(const uint8_t* p, size_t n, Super* s, std::string* why);

struct LogHeader {
  Uuid uuid;
  uint64_t epoch = 1;
  uint64_t baseSeq = 0;  // seq of the first batch in this log, minus one
};
void encodeLogHeader(const LogHeader& h, uint8_t out[kLogHeaderSize]);
bool decodeLogHeader(const uint8_t* p, size_t n, LogHeader* h, std::string* why);
// logHeaderCrc -- the crc stored in an encoded log header (the first batch's prev_crc).
inline uint32_t logHeaderCrc(const uint8_t* p) { return rd32(p + 60); }

constexpr uint8_t kFlagSeq = 1;  // put carries the entry's original seq (8 bytes after name+meta): compaction

struct Op {
  uint8_t type = kOpPut;
  uint64_t seq = 0;  // with kFlagSeq: the seq the entry had before compaction (0 = none)
  std::string name;  // UTF-8, 1..255 bytes
  std::string meta;  // <= 1 MiB
  uint64_t offset = 0;
  uint64_t length = 0;
};
inline uint64_t opSize(size_t nameLen, size_t metaLen, bool withSeq = false) {
  return pad8(kOpHeaderSize + nameLen + metaLen + (withSeq ? 8 : 0));
}

// encodeBatch -- append one batch to `out`; returns its crc (the next batch's prev_crc).
uint32_t encodeBatch(const std::vector<Op>& ops, uint64_t seq, uint64_t epoch, uint32_t prevCrc, std::vector<uint8_t>* out);

enum class Parse { Ok, Torn, Corrupt };
struct ParsedBatch {
  uint64_t seq = 0;
  uint32_t crc = 0;
  uint64_t size = 0;  // header + payload
  std::vector<Op> ops;
};
// parseBatch -- parse the batch at p[0..avail). Torn: the bytes do not form the expected next
// batch (bad magic/seq/epoch/chain/crc/length): the tail of the log. Corrupt: a checksummed batch
// whose contents break the format's rules (the writer never produces these).
Parse parseBatch(const uint8_t* p, uint64_t avail, uint64_t expectSeq, uint64_t epoch, uint32_t prevCrc,
                 ParsedBatch* out, std::string* why);
// looksLikeLaterBatch -- a checksummed batch header of this epoch with seq > minSeq at p (used to tell
// a torn tail from damage in the middle of a log).
bool looksLikeLaterBatch(const uint8_t* p, uint64_t avail, uint64_t minSeq, uint64_t epoch);

// validUtf8Name -- 1..255 bytes of valid UTF-8 (no overlongs, no surrogates).
bool validUtf8Name(const std::string& s);

}  // namespace fmt
}  // namespace tsmm
