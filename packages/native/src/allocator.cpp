#include "allocator.hpp"

#include <algorithm>

#include "format.hpp"

namespace tsmm {

// alignedSize -- allocation granularity: 64 bytes, whole pages from one page up.
uint64_t Allocator::alignedSize(uint64_t len) {
  if (len > fmt::kMaxExtent) return UINT64_MAX;  // never fits anywhere (and cannot wrap)
  return len >= fmt::kPage ? fmt::alignUp(len, fmt::kPage) : fmt::alignUp(len, fmt::kMinAlign);
}

// reset -- everything in [start, end) free.
void Allocator::reset(uint64_t start, uint64_t end) {
  start_ = start;
  end_ = end;
  free_ = 0;
  freeByOff_.clear();
  bySize_.clear();
  used_.clear();
  inState_[0] = inState_[1] = inState_[2] = 0;
  if (end > start) addFree(start, end - start);
}

// addFree -- insert a free range, merging with its neighbours.
void Allocator::addFree(uint64_t off, uint64_t len) {
  if (len == 0) return;
  auto next = freeByOff_.lower_bound(off);
  if (next != freeByOff_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      off = prev->first;
      len += prev->second;
      bySize_.erase({prev->second, prev->first});
      free_ -= prev->second;
      freeByOff_.erase(prev);
    }
  }
  next = freeByOff_.lower_bound(off);
  if (next != freeByOff_.end() && off + len == next->first) {
    len += next->second;
    bySize_.erase({next->second, next->first});
    free_ -= next->second;
    freeByOff_.erase(next);
  }
  freeByOff_[off] = len;
  bySize_.insert({len, off});
  free_ += len;
}

// removeFree -- take [off, off+len) out of the free range that contains it.
void Allocator::removeFree(uint64_t off, uint64_t len) {
  auto it = freeByOff_.upper_bound(off);
  --it;  // caller guarantees containment
  uint64_t fOff = it->first, fLen = it->second;
  bySize_.erase({fLen, fOff});
  freeByOff_.erase(it);
  free_ -= fLen;
  if (off > fOff) addFree(fOff, off - fOff);
  if (fOff + fLen > off + len) addFree(off + len, fOff + fLen - (off + len));
}

// rebuild -- sort the live extents, check them, and make every gap between them one free extent.
bool Allocator::rebuild(uint64_t start, uint64_t end, std::vector<LiveExt>& live) {
  reset(start, start);
  end_ = end;
  std::sort(live.begin(), live.end());
  uint64_t cur = start;
  auto hint = used_.end();
  for (const auto& x : live) {
    uint64_t sz = alignedSize(x.length), e;
    if (x.offset < cur || fmt::addOver(x.offset, sz, &e) || e > end) return false;
    if (x.offset > cur) {
      freeByOff_.emplace_hint(freeByOff_.end(), cur, x.offset - cur);
      bySize_.insert({x.offset - cur, cur});
      free_ += x.offset - cur;
    }
    hint = used_.emplace_hint(used_.end(), x.offset, ExtInfo{sz, x.length, ExtState::Live, 0, x.owner});
    inState_[(int)ExtState::Live] += sz;
    cur = e;
  }
  if (end > cur) {
    freeByOff_.emplace_hint(freeByOff_.end(), cur, end - cur);
    bySize_.insert({end - cur, cur});
    free_ += end - cur;
  }
  (void)hint;
  return true;
}

// markLive -- carve out a committed extent at open.
bool Allocator::markLive(uint64_t off, uint64_t len) {
  uint64_t sz = alignedSize(len), endOff;
  if (off < start_ || fmt::addOver(off, sz, &endOff) || endOff > end_) return false;
  auto it = freeByOff_.upper_bound(off);
  if (it == freeByOff_.begin()) return false;
  --it;
  if (it->first + it->second < endOff) return false;  // overlaps a used extent
  removeFree(off, sz);
  used_[off] = ExtInfo{sz, len, ExtState::Live, 0};
  inState_[(int)ExtState::Live] += sz;
  return true;
}

// extend -- new space at the end of the region.
void Allocator::extend(uint64_t newEnd) {
  if (newEnd <= end_) return;
  uint64_t old = end_;
  end_ = newEnd;
  addFree(old, newEnd - old);
}

// alloc -- best fit: the smallest free range that holds len after alignment padding.
bool Allocator::alloc(uint64_t len, uint64_t* off) {
  if (len == 0) return false;
  uint64_t sz = alignedSize(len);
  uint64_t align = sz >= fmt::kPage ? fmt::kPage : fmt::kMinAlign;
  for (auto it = bySize_.lower_bound({sz, 0}); it != bySize_.end(); ++it) {
    uint64_t fOff = it->second, fLen = it->first;
    uint64_t a = fmt::alignUp(fOff, align);
    if (a - fOff + sz <= fLen) {
      removeFree(a, sz);
      used_[a] = ExtInfo{sz, len, ExtState::Reserved, 0};
      inState_[(int)ExtState::Reserved] += sz;
      *off = a;
      return true;
    }
  }
  return false;
}

ExtInfo* Allocator::find(uint64_t off) {
  auto it = used_.find(off);
  return it == used_.end() ? nullptr : &it->second;
}

ExtInfo* Allocator::containing(uint64_t off, uint64_t len, uint64_t* base) {
  auto it = used_.upper_bound(off);
  if (it == used_.begin()) return nullptr;
  --it;
  uint64_t e;
  if (fmt::addOver(off, len, &e) || e > it->first + it->second.want) return nullptr;
  *base = it->first;
  return &it->second;
}

// unname -- see header.
void Allocator::unname(uint64_t off) {
  auto it = used_.find(off);
  if (it == used_.end()) return;
  if (it->second.views == 0) {
    uint64_t len = it->second.length;
    inState_[(int)it->second.state] -= len;
    used_.erase(it);
    addFree(off, len);
  } else {
    setState(&it->second, ExtState::Pinned);
    it->second.owner = nullptr;
  }
}

// dropView -- see header.
void Allocator::dropView(uint64_t off) {
  auto it = used_.find(off);
  if (it == used_.end() || it->second.views == 0) return;
  if (--it->second.views == 0 && it->second.state == ExtState::Pinned) {
    uint64_t len = it->second.length;
    inState_[(int)ExtState::Pinned] -= len;
    used_.erase(it);
    addFree(off, len);
  }
}

}  // namespace tsmm
