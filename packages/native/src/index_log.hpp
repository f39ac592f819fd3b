// index_log.hpp -- the crash-consistent name index: an append-only log of checksummed batches.
//
// Ordering invariants (the commit protocol):
//   1. the data of every extent a batch names is persisted before the batch is appended;
//   2. append() returns only once the batch is durable (fdatasync of the .map in the pair layout;
//      flush + drain of the log bytes in the single layout);
//   3. replay applies whole batches in seq order, each chained to the previous by prev_crc, and
//      stops at the first bytes that are not the expected next batch (a torn tail);
//   4. compaction writes a complete new log (epoch + 1) and switches to it with one atomic step
//      (rename + directory fsync, or the active-half word + persist): a crash leaves one or the other.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "format.hpp"
#include "persist.hpp"

namespace tsmm {

struct Entry {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t seq = 0;
  std::string meta;
};
using EntryMap = std::unordered_map<std::string, Entry>;

struct ReplayState {
  fmt::LogHeader header;
  uint64_t seq = 0;      // last applied batch
  uint32_t lastCrc = 0;  // its crc (next batch's prev_crc)
  uint64_t tail = 0;     // byte position just after the last applied batch
  uint64_t end = 0;      // bytes present in the log
  uint64_t batches = 0;
};

// replayLog -- validate the header of log image p[0..n) and apply its batches to `entries`.
// Throws ESHELF_CORRUPT (naming `what`) for damage that is not a torn tail.
ReplayState replayLog(const uint8_t* p, uint64_t n, const fmt::Uuid& uuid, EntryMap* entries, const std::string& what);
// replayMore -- continue a replay from st->tail over a grown image (readers' refresh).
void replayMore(const uint8_t* p, uint64_t n, ReplayState* st, EntryMap* entries, const std::string& what);

// compactImage -- a new log image (epoch+1) holding one batch that puts every live entry.
std::vector<uint8_t> compactImage(const fmt::Uuid& uuid, uint64_t epoch, uint64_t seq, const EntryMap& entries,
                                  ReplayState* st);

// Where the log bytes live.
class LogStore {
 public:
  virtual ~LogStore() = default;
  virtual std::vector<uint8_t> readAll() = 0;
  // append -- write n bytes at `at` and make them durable.
  virtual void append(const uint8_t* p, size_t n, uint64_t at) = 0;
  // truncate -- forget everything from `at` on (torn tail), durably.
  virtual void truncate(uint64_t at) = 0;
  // replaceAll -- atomically switch to a new complete image (compaction).
  virtual void replaceAll(const std::vector<uint8_t>& image) = 0;
  virtual uint64_t capacity() const = 0;
  // changed -- readers: the log was replaced since we read it (compaction by the writer).
  virtual bool changed() = 0;
};

}  // namespace tsmm
