// pool.hpp -- one open pool: files, lock, mapping, allocator, index and the commit protocol.
//
// Lifetime: a PoolCore is owned by a shared_ptr held by its JS object and by every view's
// finalizer hint, so finalizers that run after close() (or after the JS object is gone) still
// find valid bookkeeping. close() unmaps; after it, only view bookkeeping may touch the object.
//
// Address space: at open the pool reserves `maxSize` bytes of virtual address space (PROT_NONE)
// and maps the region at its start with MAP_FIXED; grow() maps the new segment right after the
// old one inside the reservation, so no byte ever moves and every view stays valid.
//
// Locks: writer = flock(LOCK_EX) on the .map (single layout: on the file); every opener also
// holds flock(LOCK_SH) on the .data, so forceNew/destroy (LOCK_EX on the .data) cannot pull
// files from under a reader. Readers of the single layout take LOCK_SH on the file: they
// exclude a writer.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "allocator.hpp"
#include "format.hpp"
#include "index_log.hpp"
#include "persist.hpp"

namespace tsmm {

struct OpenOptions {
  uint64_t size = 0;
  bool create = true;
  bool forceNew = false;
  bool readOnly = false;
  bool single = false;
  uint64_t logSize = 0;
  uint64_t maxSize = 0;
};

// One requested operation of a batch, as received from JavaScript.
struct BatchOp {
  bool put = true;
  std::string name;
  std::string meta;
  uint64_t offset = 0;
  uint64_t length = 0;
};

enum class Medium { File, Tmpfs, Dax, DevDax };

struct Stats {
  uint64_t size, dataStart, used, reserved, pinned, free, largestFree, entries, seq, logBytes, liveLogBytes;
  double fragmentation;
  const char* medium;
  const char* persistMethod;
  bool durable, single, readOnly;
};

class PoolCore {
 public:
  static std::shared_ptr<PoolCore> open(const std::string& path, const OpenOptions& o);
  static void destroy(const std::string& path, bool single);
  static bool exists(const std::string& path, bool single);
  ~PoolCore();

  uint64_t alloc(uint64_t len);
  void release(uint64_t off);
  uint64_t commit(std::vector<BatchOp>& ops);
  const Entry* get(const std::string& name) const;
  std::vector<std::string> names(const std::string& prefix) const;
  const EntryMap& entries() const { return entries_; }
  // viewable -- check [off, off+len) lies in one non-free extent and count a view of it; returns its base.
  uint64_t addView(uint64_t off, uint64_t len);
  void dropView(uint64_t extentBase);
  // writeBytes -- copy n bytes into the pool at off (inside one extent). On a file medium large copies go
  // through pwrite into the page cache (coherent with the mapping, and no page faults on the mapping);
  // small ones, and DAX/tmpfs, are a memcpy into the mapping.
  void writeBytes(uint64_t off, const uint8_t* src, size_t n);
  // checkRange -- [off, off+len) lies inside one allocated or named extent (for read/write copies).
  void checkRange(uint64_t off, uint64_t len, const char* what) const;
  bool readOnly() const { return readOnly_; }
  uint8_t* base() const { return base_; }
  void persist(uint64_t off, uint64_t len);
  // zero -- make [off, off+len) of one extent read as zeros; whole pages by FALLOC_FL_ZERO_RANGE
  // (no data written, blocks stay reserved), falling back to punch-hole + re-reserve, then memset.
  void zero(uint64_t off, uint64_t len);
  // advise -- madvise over the pages of [off, off+len) inside one extent: "dontneed" drops them from this
  // process's memory (a shared file mapping keeps the data in the page cache/medium; RSS falls), "willneed",
  // "sequential", "random", "normal" pass the hint on.
  void advise(uint64_t off, uint64_t len, const std::string& advice);
  void grow(uint64_t newSize);
  bool refresh();
  void compact();
  Stats stats() const;
  void close();
  bool closed() const { return closed_; }
  void requireOpen() const;
  const std::string& name() const { return path_; }

 private:
  PoolCore() = default;
  void openPair(const OpenOptions& o);
  void openSingle(const OpenOptions& o);
  void createPair(const OpenOptions& o);
  void createSingle(const OpenOptions& o, bool isDevice);
  void mapRegion(uint64_t size, uint64_t maxSize);
  uint64_t chooseHalf() const;  // single layout: which log half is live
  void fixActiveWord(uint64_t half);
  void refreshIndex();
  void createSingleLayout(uint64_t size, uint64_t half, bool isDevice);
  void loadIndex();  // replay + allocator rebuild + tail truncation
  void requireWritable() const;
  void persistOrThrow(uint64_t off, uint64_t len, const char* what);
  uint64_t liveLogBytes() const;
  void maybeCompact();

  std::string path_;       // pool path as given (no extension for pair)
  std::string dataPath_, mapPath_;
  bool single_ = false, readOnly_ = false, closed_ = false, poisoned_ = false, device_ = false;
  int dataFd_ = -1, mapFd_ = -1;
  uint8_t* reserve_ = nullptr;  // reserved address range
  uint64_t reserveLen_ = 0;
  uint8_t* base_ = nullptr;  // == reserve_
  uint64_t size_ = 0;        // mapped region bytes
  Medium medium_ = Medium::File;
  PersistMethod method_ = PersistMethod::Msync;
  fmt::Super super_;
  std::unique_ptr<LogStore> log_;
  ReplayState st_;
  EntryMap entries_;
  Allocator alloc_;
  uint64_t liveLog_ = 0;  // bytes a compacted log would take
};

}  // namespace tsmm
