// allocator.hpp -- extents of the region: best-fit over free space, rebuilt at open from live entries.
//
// Allocation state is never persisted: the index names every extent that matters, and anything
// else (an allocation never committed, a crash mid-commit) is free space at the next open.
//
// Every non-free extent has a state and a count of JavaScript views that reference it:
//   Reserved -- handed out by alloc(), not yet named by a durable batch;
//   Live     -- named by a committed entry;
//   Pinned   -- no longer named (erased/replaced/released) but still viewed: it becomes free
//               when its last view is collected, never before (no use-after-free through a view).
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tsmm {

enum class ExtState { Reserved, Live, Pinned };

struct ExtInfo {
  uint64_t length = 0;  // aligned size it occupies
  uint64_t want = 0;    // bytes asked for / named: views may not reach past it
  ExtState state = ExtState::Reserved;
  uint64_t views = 0;
  const std::string* owner = nullptr;  // Live: the entry name (a key of the pool's EntryMap, stable)
};

class Allocator {
 public:
  // reset -- the region [start, end) is all free.
  void reset(uint64_t start, uint64_t end);
  // rebuild -- region [start, end) with exactly these extents live (offset, length); everything else free.
  // Returns false (state unspecified) if an extent is out of bounds or two overlap. One sorted pass.
  struct LiveExt {
    uint64_t offset, length;
    const std::string* owner;
    bool operator<(const LiveExt& o) const { return offset < o.offset; }
  };
  bool rebuild(uint64_t start, uint64_t end, std::vector<LiveExt>& live);
  // markLive -- carve a named extent out of free space at open; false if it overlaps anything.
  bool markLive(uint64_t off, uint64_t len);
  // setWant -- the extent at off is now named with `len` bytes.
  void setWant(uint64_t off, uint64_t len) { auto* x = find(off); if (x) x->want = len; }
  // extend -- the region grew to `newEnd`.
  void extend(uint64_t newEnd);
  // alloc -- best-fit; 64-byte aligned, page-aligned when len >= 4096. Returns false when full.
  bool alloc(uint64_t len, uint64_t* off);
  // find -- the non-free extent starting exactly at `off`, or nullptr.
  ExtInfo* find(uint64_t off);
  // containing -- the non-free extent containing [off, off+len), or nullptr (start offset in *base).
  ExtInfo* containing(uint64_t off, uint64_t len, uint64_t* base);
  // unname -- an extent stops being named or reserved: free now if unviewed, else Pinned.
  void unname(uint64_t off);
  // dropView -- a view of the extent at `off` was collected; frees a Pinned extent at zero views.
  void dropView(uint64_t off);
  // alignedSize -- the bytes an allocation of `len` occupies.
  static uint64_t alignedSize(uint64_t len);

  uint64_t freeBytes() const { return free_; }
  uint64_t largestFree() const { return bySize_.empty() ? 0 : bySize_.rbegin()->first; }
  uint64_t bytesIn(ExtState s) const { return inState_[(int)s]; }
  // setState -- move a non-free extent to another state (keeps the per-state byte counts).
  void setState(ExtInfo* x, ExtState s) { inState_[(int)x->state] -= x->length; x->state = s; inState_[(int)s] += x->length; }
  uint64_t end() const { return end_; }

 private:
  void addFree(uint64_t off, uint64_t len);   // insert + coalesce
  void removeFree(uint64_t off, uint64_t len);
  uint64_t start_ = 0, end_ = 0, free_ = 0;
  std::map<uint64_t, uint64_t> freeByOff_;
  std::set<std::pair<uint64_t, uint64_t>> bySize_;  // (len, off)
  std::map<uint64_t, ExtInfo> used_;               // non-free extents by offset
  uint64_t inState_[3] = {0, 0, 0};                // bytes per ExtState
};

}  // namespace tsmm
