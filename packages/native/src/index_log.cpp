#include "index_log.hpp"

#include <algorithm>

#include "util/debug.hpp"
#include "util/errors.hpp"

namespace tsmm {

// applyBatch -- apply parsed ops in order; an erase of a missing name is corruption.
static void applyBatch(fmt::ParsedBatch& b, EntryMap* entries, const std::string& what) {
  for (fmt::Op& op : b.ops) {
    if (op.type == fmt::kOpPut) {
      Entry& e = (*entries)[std::move(op.name)];
      e.offset = op.offset;
      e.length = op.length;
      e.seq = op.seq ? op.seq : b.seq;
      e.meta = std::move(op.meta);
    } else if (entries->erase(op.name) == 0) {
      fail("ESHELF_CORRUPT", what + ": batch " + std::to_string(b.seq) + " erases missing entry \"" + op.name + "\"");
    }
  }
}

// replayFrom -- parse batches from st->tail to n; stop at a torn tail, throw on damage.
static void replayFrom(const uint8_t* p, uint64_t n, ReplayState* st, EntryMap* entries, const std::string& what) {
  fmt::ParsedBatch b;
  std::string why;
  uint64_t pos = st->tail;
  for (;;) {
    fmt::Parse r = fmt::parseBatch(p + pos, n - pos, st->seq + 1, st->header.epoch, st->lastCrc, &b, &why);
    if (r == fmt::Parse::Corrupt) fail("ESHELF_CORRUPT", what + ": batch " + std::to_string(st->seq + 1) + " at byte " + std::to_string(pos) + ": " + why);
    if (r == fmt::Parse::Torn) break;
    applyBatch(b, entries, what);
    st->seq = b.seq;
    st->lastCrc = b.crc;
    pos += b.size;
    st->batches++;
  }
  st->tail = pos;
  st->end = n;
  // A torn tail is the end of the log. A checksummed later batch beyond it means the damage is in
  // the middle: committed batches would be lost silently, so refuse.
  for (uint64_t q = fmt::pad8(pos + 1); q + fmt::kBatchHeaderSize <= n; q += 8) {
    if (fmt::looksLikeLaterBatch(p + q, n - q, st->seq + 1, st->header.epoch)) {
      fail("ESHELF_CORRUPT", what + ": batch " + std::to_string(st->seq + 1) + " at byte " + std::to_string(pos) +
                                 " is damaged but later batches follow it");
    }
  }
}

// replayLog -- header, then batches.
ReplayState replayLog(const uint8_t* p, uint64_t n, const fmt::Uuid& uuid, EntryMap* entries, const std::string& what) {
  ReplayState st;
  std::string why;
  if (!fmt::decodeLogHeader(p, n, &st.header, &why)) fail("ESHELF_CORRUPT", what + ": " + why);
  if (st.header.uuid != uuid) fail("ESHELF_CORRUPT", what + ": index belongs to another pool (uuid mismatch)");
  st.seq = st.header.baseSeq;
  st.lastCrc = fmt::logHeaderCrc(p);
  st.tail = fmt::kLogHeaderSize;
  entries->reserve(std::min<uint64_t>(n / 96, 1u << 24));  // an op takes >= 32 bytes; most take ~100
  replayFrom(p, n, &st, entries, what);
  if (st.header.epoch > 1 && st.batches == 0) {
    // a compacted log starts with its compaction batch, written and made durable before the log was switched to
    fail("ESHELF_CORRUPT", what + ": the compaction batch of epoch " + std::to_string(st.header.epoch) + " is damaged");
  }
  TSMM_LOG(1, "replayed %s: %llu batches, seq %llu, %zu entries, tail %llu of %llu", what.c_str(),
           (unsigned long long)st.batches, (unsigned long long)st.seq, entries->size(), (unsigned long long)st.tail,
           (unsigned long long)n);
  return st;
}

void replayMore(const uint8_t* p, uint64_t n, ReplayState* st, EntryMap* entries, const std::string& what) {
  replayFrom(p, n, st, entries, what);
}

// compactImage -- header + one batch of puts, in name order so the image is deterministic.
std::vector<uint8_t> compactImage(const fmt::Uuid& uuid, uint64_t epoch, uint64_t seq, const EntryMap& entries,
                                  ReplayState* st) {
  std::vector<uint8_t> img(fmt::kLogHeaderSize);
  fmt::LogHeader h;
  h.uuid = uuid;
  h.epoch = epoch;
  // The compacted batch keeps the current seq, so a compaction is invisible to seq numbers. It is
  // always written (with no ops for an empty pool): replay requires it, so that damage to it can never
  // pass for a torn append and silently empty the pool.
  h.baseSeq = seq - 1;
  fmt::encodeLogHeader(h, img.data());
  uint32_t crc = fmt::logHeaderCrc(img.data());
  uint64_t newSeq = seq;
  std::vector<const std::pair<const std::string, Entry>*> sorted;
  sorted.reserve(entries.size());
  for (const auto& kv : entries) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<fmt::Op> ops;
  ops.reserve(sorted.size());
  for (auto* kv : sorted) {
    fmt::Op op;
    op.type = fmt::kOpPut;
    op.name = kv->first;
    op.meta = kv->second.meta;
    op.offset = kv->second.offset;
    op.length = kv->second.length;
    op.seq = kv->second.seq;
    ops.push_back(std::move(op));
  }
  crc = fmt::encodeBatch(ops, newSeq, epoch, crc, &img);
  st->header = h;
  st->seq = newSeq;
  st->lastCrc = crc;
  st->tail = img.size();
  st->end = img.size();
  st->batches = 1;
  return img;
}

}  // namespace tsmm
