#include "pool.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include "sys.hpp"
#include "util/debug.hpp"
#include "util/errors.hpp"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace tsmm {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMaxMapFile = 4 * kGiB;  // an index larger than this is not ours
// A log is compacted past twice its live size, but not below this: small logs would otherwise be rewritten
// (fsync + rename + directory fsync) every other commit, e.g. at every training checkpoint of a small model.
constexpr uint64_t kCompactFloor = 64 * 1024;

std::string dirOf(const std::string& p) {
  size_t s = p.rfind('/');
  if (s == std::string::npos) return ".";
  if (s == 0) return "/";
  return p.substr(0, s);
}

// fsyncDir -- make a create/rename/unlink in `dir` durable.
int fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int r = sys::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return r;
}

// lockOrFail -- non-blocking flock; EWOULDBLOCK is ESHELF_LOCKED naming the pool.
void lockOrFail(int fd, int op, const std::string& path, const std::string& pool) {
  if (::flock(fd, op | LOCK_NB) == 0) return;
  int e = errno;
  if (e == EWOULDBLOCK) {
    ShelfErr err("ESHELF_LOCKED", "pool " + pool + " is locked by another " +
                                      std::string(op == LOCK_EX ? "opener" : "writer") + " (" + path + ")");
    err.errnoName = "EWOULDBLOCK";
    err.syscall = "flock";
    err.path = path;
    throw err;
  }
  failOs(e, "flock", path, "cannot lock pool " + pool);
}

// ofdLock -- open-file-description byte lock (single layout): byte 0 = the writer, byte 1 = every
// opener (shared) and whoever re-creates or destroys the pool (exclusive). Released when the
// descriptor closes, so a killed holder releases it too.
void ofdLock(int fd, off_t byte, short type, const std::string& path, const std::string& pool) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return;
  int e = errno;
  if (e == EAGAIN || e == EACCES) {
    ShelfErr err("ESHELF_LOCKED", "pool " + pool + " is locked by another " + std::string(byte == 0 ? "writer" : "opener") + " (" + path + ")");
    err.errnoName = "EWOULDBLOCK";
    err.syscall = "fcntl";
    err.path = path;
    throw err;
  }
  failOs(e, "fcntl", path, "cannot lock pool " + pool);
}

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() { if (fd >= 0) ::close(fd); }
  int release() { int f = fd; fd = -1; return f; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// FileLog -- the pair layout's .map file.
class FileLog : public LogStore {
 public:
  FileLog(int fd, std::string path, bool* poisoned) : fd_(fd), path_(std::move(path)), poisoned_(poisoned) {}
  ~FileLog() override = default;  // fd owned by PoolCore

  int fd() const { return fd_; }
  void setFd(int fd) { fd_ = fd; }

  // readAll -- the whole file (bounded by kMaxMapFile).
  std::vector<uint8_t> readAll() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) failOs(errno, "fstat", path_, "cannot read index");
    if ((uint64_t)st.st_size > kMaxMapFile) fail("ESHELF_CORRUPT", path_ + ": index file is larger than 4 GiB");
    std::vector<uint8_t> buf((size_t)st.st_size);
    ssize_t r = sys::pread(fd_, buf.data(), buf.size(), 0);
    if (r < 0) failOs(errno, "pread", path_, "cannot read index");
    buf.resize((size_t)r);
    return buf;
  }

  // append -- pwrite + fdatasync. On a failed fdatasync the batch is cut off again; if even that
  // fails the pool is poisoned: nothing more is committed until it is re-opened and replayed.
  void append(const uint8_t* p, size_t n, uint64_t at) override {
    if (sys::pwrite(fd_, p, n, (off_t)at) < 0) {
      int e = errno;
      if (::ftruncate(fd_, (off_t)at) != 0) *poisoned_ = true;
      failOs(e, "pwrite", path_, "commit failed, nothing committed");
    }
    if (sys::fdatasync(fd_) != 0) {
      int e = errno;
      if (sys::ftruncate(fd_, (off_t)at) != 0 || sys::fdatasync(fd_) != 0) *poisoned_ = true;
      failOs(e, "fdatasync", path_, *poisoned_ ? "commit not durable; its outcome is unknown until the pool is re-opened"
                                                : "commit not durable, nothing committed");
    }
  }

  void truncate(uint64_t at) override {
    if (sys::ftruncate(fd_, (off_t)at) != 0) failOs(errno, "ftruncate", path_, "cannot cut the torn tail of the index");
    if (sys::fdatasync(fd_) != 0) failOs(errno, "fdatasync", path_, "cannot cut the torn tail of the index");
  }

  // replaceAll -- write PATH.map.compact, make it durable, lock it, rename it over PATH.map, fsync the directory.
  void replaceAll(const std::vector<uint8_t>& image) override {
    std::string tmp = path_ + ".compact";
    ::unlink(tmp.c_str());
    Fd nfd(::open(tmp.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (nfd.fd < 0) failOs(errno, "open", tmp, "cannot compact index");
    auto undo = [&](int e, const char* call) {
      ::unlink(tmp.c_str());
      failOs(e, call, tmp, "cannot compact index (the old index is intact)");
    };
    if (sys::pwrite(nfd.fd, image.data(), image.size(), 0) < 0) undo(errno, "pwrite");
    if (sys::fsync(nfd.fd) != 0) undo(errno, "fsync");
    if (::flock(nfd.fd, LOCK_EX | LOCK_NB) != 0) undo(errno, "flock");
    if (sys::rename(tmp.c_str(), path_.c_str()) != 0) undo(errno, "rename");
    int e = fsyncDir(dirOf(path_));
    ::close(fd_);
    fd_ = nfd.release();
    if (e != 0) {
      *poisoned_ = true;  // the rename may not survive a power cut: stop committing
      failOs(e, "fsync", dirOf(path_), "index compacted but the directory could not be synced");
    }
  }

  uint64_t capacity() const override { return UINT64_MAX; }

  // changed -- PATH.map now names another inode (the writer compacted).
  bool changed() override {
    struct stat a, b;
    if (::fstat(fd_, &a) != 0 || ::stat(path_.c_str(), &b) != 0) return true;
    return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
  }

 private:
  int fd_;
  std::string path_;
  bool* poisoned_;
};

// RegionLog -- the single layout's two log halves inside the mapped region.
class RegionLog : public LogStore {
 public:
  RegionLog(uint8_t* base, uint64_t logOff, uint64_t half, uint64_t active, PersistMethod m, std::string path, bool* poisoned)
      : base_(base), logOff_(logOff), half_(half), active_(active), m_(m), path_(std::move(path)), poisoned_(poisoned) {}

  uint8_t* at(uint64_t h) const { return base_ + logOff_ + h * half_; }

  std::vector<uint8_t> readAll() override { return std::vector<uint8_t>(at(active_), at(active_) + half_); }

  void persistOr(uint8_t* p, size_t n, const char* what) {
    int e = persistRange(m_, p, n);
    if (e != 0) failOs(e, "msync", path_, what);
  }

  // undo -- take back bytes written to the mapping whose persist failed (they would reach the medium later
  // anyway, through page writeback): restore `n` bytes at p from `old` and persist; poison the pool if even
  // that fails, so that nothing more is acknowledged before a re-open decides what is on the medium.
  void undo(uint8_t* p, const uint8_t* old, size_t n) {
    memcpy(p, old, n);
    if (persistRange(m_, p, n) != 0) *poisoned_ = true;
  }

  void append(const uint8_t* p, size_t n, uint64_t pos) override {
    uint64_t end;
    if (fmt::addOver(pos, n, &end) || end > half_) fail("ESHELF_FULL", path_ + ": index log area is full");
    memcpy(at(active_) + pos, p, n);
    int e = persistRange(m_, at(active_) + pos, n);
    if (e != 0) {
      static const uint8_t zeros[fmt::kBatchHeaderSize] = {};
      undo(at(active_) + pos, zeros, fmt::kBatchHeaderSize);  // the batch must not surface at the next open
      failOs(e, "msync", path_, *poisoned_ ? "commit not durable; its outcome is unknown until the pool is re-opened"
                                           : "commit not durable, nothing committed");
    }
  }

  void truncate(uint64_t pos) override {
    if (pos >= half_) return;
    size_t n = (size_t)std::min<uint64_t>(fmt::kBatchHeaderSize, half_ - pos);
    memset(at(active_) + pos, 0, n);
    persistOr(at(active_) + pos, n, "cannot cut the torn tail of the index");
  }

  // replaceAll -- write the other half, persist it, then flip the active word and persist that (the commit
  // point of the switch). On failure the other half's header is wiped and the word restored, so the next
  // open keeps reading the old half, which later commits keep appending to.
  void replaceAll(const std::vector<uint8_t>& image) override {
    if (image.size() + fmt::kBatchHeaderSize > half_) fail("ESHELF_FULL", path_ + ": live index does not fit its log area");
    uint64_t other = 1 - active_;
    static const uint8_t zeros[fmt::kLogHeaderSize] = {};
    memcpy(at(other), image.data(), image.size());
    memset(at(other) + image.size(), 0, fmt::kBatchHeaderSize);
    int e = persistRange(m_, at(other), image.size() + fmt::kBatchHeaderSize);
    if (e != 0) {
      undo(at(other), zeros, fmt::kLogHeaderSize);
      failOs(e, "msync", path_, "cannot compact index (the old index is intact)");
    }
    uint8_t oldWord[8];
    memcpy(oldWord, base_ + fmt::kActiveHalfOff, 8);
    fmt::wr64(base_ + fmt::kActiveHalfOff, other);
    e = persistRange(m_, base_ + fmt::kActiveHalfOff, 8);
    if (e != 0) {
      undo(base_ + fmt::kActiveHalfOff, oldWord, 8);
      undo(at(other), zeros, fmt::kLogHeaderSize);
      failOs(e, "msync", path_, "cannot switch index halves (the old index is intact)");
    }
    active_ = other;
  }

  uint64_t capacity() const override { return half_; }
  bool changed() override { return false; }
  uint64_t active() const { return active_; }

 private:
  uint8_t* base_;
  uint64_t logOff_, half_, active_;
  PersistMethod m_;
  std::string path_;
  bool* poisoned_;
};

uint64_t nowNs() {
  return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

// deviceSize -- size of a character device (device DAX) from sysfs.
uint64_t deviceSize(const struct stat& st, const std::string& path) {
  char p[128];
  snprintf(p, sizeof p, "/sys/dev/char/%u:%u/size", major(st.st_rdev), minor(st.st_rdev));
  FILE* f = fopen(p, "r");
  if (!f) failOs(errno, "open", p, "cannot size device " + path);
  unsigned long long v = 0;
  int ok = fscanf(f, "%llu", &v);
  fclose(f);
  if (ok != 1 || v == 0) fail("ESHELF_IO", "cannot size device " + path);
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// open / create

// open -- open or create the pool at `path` (see OpenOptions).
std::shared_ptr<PoolCore> PoolCore::open(const std::string& path, const OpenOptions& o) {
  std::shared_ptr<PoolCore> p(new PoolCore());
  p->path_ = path;
  p->readOnly_ = o.readOnly;
  p->single_ = o.single;
  struct stat st;
  if (::stat(dirOf(path).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fail("ESHELF_NOT_FOUND", "directory of pool " + path + " does not exist");
  }
  if (::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) p->single_ = true;
  try {
    if (p->single_) p->openSingle(o);
    else p->openPair(o);
  } catch (...) {
    p->close();
    throw;
  }
  TSMM_LOG(1, "opened %s (%s, %s, %s): %zu entries, size %llu, seq %llu", path.c_str(), p->single_ ? "single" : "pair",
           p->readOnly_ ? "read-only" : "writer", persistMethodName(p->method_), p->entries_.size(),
           (unsigned long long)p->size_, (unsigned long long)p->st_.seq);
  return p;
}

// openPair -- PATH.data + PATH.map.
void PoolCore::openPair(const OpenOptions& o) {
  dataPath_ = path_ + ".data";
  mapPath_ = path_ + ".map";
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode) && o.forceNew && !readOnly_) {
    // forceNew: a single-layout pool of the same name is replaced too (only a file with our superblock)
    int fd = ::open(path_.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      Fd g(fd);
      uint8_t sb[fmt::kSuperSize];
      fmt::Super sup;
      std::string why;
      ssize_t r = sys::pread(fd, sb, sizeof sb, 0);
      if (r > 0 && fmt::decodeSuper(sb, (size_t)r, &sup, &why) && sup.layout == fmt::kLayoutSingle) {
        ofdLock(fd, 0, F_WRLCK, path_, path_);
        ofdLock(fd, 1, F_WRLCK, path_, path_);
        ::unlink(path_.c_str());
      }
    }
  }
  if (::lstat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode) && !o.forceNew) {
    // a single-layout pool sits at the bare path
    fail("ESHELF_EXISTS", "pool " + path_ + " exists with the single-file layout (open it with layout 'single')");
  }
  if (readOnly_) {
    mapFd_ = ::open(mapPath_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (mapFd_ < 0) {
      if (errno == ENOENT) fail("ESHELF_NOT_FOUND", "pool " + path_ + " does not exist (" + mapPath_ + ")");
      failOs(errno, "open", mapPath_, "cannot open pool " + path_);
    }
    dataFd_ = ::open(dataPath_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (dataFd_ < 0) {
      if (errno == ENOENT) fail("ESHELF_CORRUPT", "pool " + path_ + ": " + dataPath_ + " is missing");
      failOs(errno, "open", dataPath_, "cannot open pool " + path_);
    }
    lockOrFail(dataFd_, LOCK_SH, dataPath_, path_);
  } else {
    // Take the writer lock on the .map, retrying if a compaction renamed it under us.
    for (int attempt = 0;; attempt++) {
      bool created = false;
      int fd = ::open(mapPath_.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) {
        struct stat ds;
        if (!o.forceNew && ::lstat(dataPath_.c_str(), &ds) == 0) {
          fail("ESHELF_CORRUPT", "pool " + path_ + ": " + mapPath_ + " is missing but " + dataPath_ +
                                     " exists (refusing to overwrite it; use forceNew to start afresh)");
        }
        if (!(o.create && o.size > 0)) {
          fail("ESHELF_NOT_FOUND", "pool " + path_ + " does not exist" + (o.create ? " (give a size to create it)" : ""));
        }
        fd = ::open(mapPath_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST && attempt < 8) continue;
        created = true;
      }
      if (fd < 0) failOs(errno, "open", mapPath_, "cannot open pool " + path_);
      Fd guard(fd);
      lockOrFail(fd, LOCK_EX, mapPath_, path_);
      struct stat a, b;
      if (::fstat(fd, &a) != 0) failOs(errno, "fstat", mapPath_, "cannot open pool " + path_);
      if (::stat(mapPath_.c_str(), &b) != 0 || a.st_ino != b.st_ino) {
        if (attempt < 8) continue;  // renamed by a compaction: lock the new file
        fail("ESHELF_LOCKED", "pool " + path_ + " keeps changing under us (" + mapPath_ + ")");
      }
      mapFd_ = guard.release();
      bool fresh = created || a.st_size == 0;  // an empty .map is a creation that never finished...
      if (fresh && !created && !o.forceNew) {
        // ...unless the .data already holds a whole pool: then the index was lost, and re-creating would
        // wipe data that may still be recovered. Refuse; forceNew is the explicit way.
        int dfd = ::open(dataPath_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0) {
          uint8_t sb[fmt::kSuperSize];
          ssize_t r = sys::pread(dfd, sb, sizeof sb, 0);
          ::close(dfd);
          fmt::Super sup;
          std::string why;
          if (r > 0 && fmt::decodeSuper(sb, (size_t)r, &sup, &why)) {
            fail("ESHELF_CORRUPT", "pool " + path_ + ": " + mapPath_ + " is empty but " + dataPath_ +
                                       " holds a pool (refusing to overwrite it; use forceNew to start afresh)");
          }
        }
      }
      if (fresh && !(o.size > 0)) {
        fail("ESHELF_NOT_FOUND", "pool " + path_ + " does not exist (give a size to create it)");
      }
      if (fresh || o.forceNew) {
        createPair(o);
        return;
      }
      break;
    }
    ::unlink((mapPath_ + ".compact").c_str());  // a compaction that never got renamed
    dataFd_ = ::open(dataPath_.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (dataFd_ < 0) {
      if (errno == ENOENT) fail("ESHELF_CORRUPT", "pool " + path_ + ": " + dataPath_ + " is missing");
      failOs(errno, "open", dataPath_, "cannot open pool " + path_);
    }
    lockOrFail(dataFd_, LOCK_SH, dataPath_, path_);
  }
  struct stat st2;
  if (::fstat(dataFd_, &st2) != 0) failOs(errno, "fstat", dataPath_, "cannot open pool " + path_);
  if (!S_ISREG(st2.st_mode)) fail("ESHELF_CORRUPT", dataPath_ + " is not a regular file");
  uint8_t sb[fmt::kSuperSize];
  ssize_t r = sys::pread(dataFd_, sb, sizeof sb, 0);
  if (r < 0) failOs(errno, "pread", dataPath_, "cannot read pool " + path_);
  std::string why;
  if (!fmt::decodeSuper(sb, (size_t)r, &super_, &why)) {
    struct stat ms;
    fmt::LogHeader lh;
    uint8_t hb[fmt::kLogHeaderSize];
    std::string why2;
    bool headerOnly = ::fstat(mapFd_, &ms) == 0 && ms.st_size == (off_t)fmt::kLogHeaderSize &&
                      sys::pread(mapFd_, hb, sizeof hb, 0) == (ssize_t)sizeof hb && fmt::decodeLogHeader(hb, sizeof hb, &lh, &why2) &&
                      lh.epoch == 1 && lh.baseSeq == 0;
    if (headerOnly) {  // the superblock is the last step of creation: this pool was never finished
      if (readOnly_ || o.size == 0) fail("ESHELF_NOT_FOUND", "pool " + path_ + " does not exist (its creation never finished)");
      TSMM_LOG(1, "%s: creation never finished; creating it again", path_.c_str());
      ::close(dataFd_);
      dataFd_ = -1;
      createPair(o);
      return;
    }
    fail("ESHELF_CORRUPT", dataPath_ + ": " + why);
  }
  if (super_.layout != fmt::kLayoutPair) fail("ESHELF_CORRUPT", dataPath_ + ": superblock says single layout");
  uint64_t size = (uint64_t)st2.st_size / fmt::kPage * fmt::kPage;
  if (size < super_.dataStart + fmt::kPage) fail("ESHELF_CORRUPT", dataPath_ + ": truncated region");
  if (!readOnly_ && sys::fallocate(dataFd_, 0, (off_t)size) != 0) {
    failOs(errno, "posix_fallocate", dataPath_, "cannot reserve the space of pool " + path_);
  }
  mapRegion(size, o.maxSize);
  log_.reset(new FileLog(mapFd_, mapPath_, &poisoned_));
  loadIndex();
}

// createPair -- with the .map locked: reserve the .data, write its superblock, then the index header
// (the index header is the commit point of creation: an empty .map means "never created").
void PoolCore::createPair(const OpenOptions& o) {
  dataFd_ = ::open(dataPath_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (dataFd_ < 0) failOs(errno, "open", dataPath_, "cannot create pool " + path_);
  lockOrFail(dataFd_, LOCK_EX, dataPath_, path_);  // no reader may hold the old region
  uint64_t size = std::max<uint64_t>(fmt::alignUp(o.size, fmt::kPage), fmt::kSuperSize + fmt::kPage);
  auto undo = [&](int e, const char* call, const std::string& p) {
    ::ftruncate(mapFd_, 0);
    ::ftruncate(dataFd_, 0);
    ::unlink(dataPath_.c_str());
    ::unlink(mapPath_.c_str());
    failOs(e, call, p, "cannot create pool " + path_ + " of " + std::to_string(size) + " bytes");
  };
  // Order matters (see docs/FORMAT.md, Creation): the old region is destroyed before the old index, and the
  // new superblock is written last. So an empty .map never sits next to a superblock of our own making, and a
  // .map with a header but no batches next to a .data without a superblock is a creation that never finished.
  if (sys::ftruncate(dataFd_, 0) != 0) undo(errno, "ftruncate", dataPath_);
  if (sys::fsync(dataFd_) != 0) undo(errno, "fsync", dataPath_);
  if (::ftruncate(mapFd_, 0) != 0) undo(errno, "ftruncate", mapPath_);
  if (::fchmod(dataFd_, 0600) != 0 || ::fchmod(mapFd_, 0600) != 0) undo(errno, "fchmod", dataPath_);
  if (sys::fallocate(dataFd_, 0, (off_t)size) != 0) undo(errno, "posix_fallocate", dataPath_);
  super_ = fmt::Super();
  super_.uuid = fmt::newUuid();
  super_.layout = fmt::kLayoutPair;
  super_.dataStart = fmt::kSuperSize;
  super_.createdNs = nowNs();
  fmt::LogHeader h;
  h.uuid = super_.uuid;
  uint8_t lh[fmt::kLogHeaderSize];
  fmt::encodeLogHeader(h, lh);
  if (sys::pwrite(mapFd_, lh, sizeof lh, 0) < 0) undo(errno, "pwrite", mapPath_);
  if (sys::fsync(mapFd_) != 0) undo(errno, "fsync", mapPath_);
  int e = fsyncDir(dirOf(mapPath_));
  if (e != 0) undo(e, "fsync", dirOf(mapPath_));
  uint8_t sb[fmt::kSuperSize];
  fmt::encodeSuper(super_, sb);
  if (sys::pwrite(dataFd_, sb, sizeof sb, 0) < 0) undo(errno, "pwrite", dataPath_);
  if (sys::fsync(dataFd_) != 0) undo(errno, "fsync", dataPath_);
  if (::flock(dataFd_, LOCK_SH | LOCK_NB) != 0) failOs(errno, "flock", dataPath_, "cannot lock pool " + path_);
  TSMM_LOG(1, "created %s: %llu bytes", path_.c_str(), (unsigned long long)size);
  mapRegion(size, o.maxSize);
  log_.reset(new FileLog(mapFd_, mapPath_, &poisoned_));
  loadIndex();
}

// openSingle -- one file or a device-DAX character device: superblock, two log halves, data.
void PoolCore::openSingle(const OpenOptions& o) {
  dataPath_ = path_;
  int flags = (readOnly_ ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC;
  dataFd_ = ::open(path_.c_str(), flags);
  if (dataFd_ < 0 && errno == ENOENT && !readOnly_ && o.create && o.size > 0) {
    dataFd_ = ::open(path_.c_str(), flags | O_CREAT | O_EXCL, 0600);
  }
  if (dataFd_ < 0) {
    if (errno == ENOENT) fail("ESHELF_NOT_FOUND", "pool " + path_ + " does not exist" + (readOnly_ || !o.create ? "" : " (give a size to create it)"));
    failOs(errno, "open", path_, "cannot open pool " + path_);
  }
  if (!readOnly_) ofdLock(dataFd_, 0, F_WRLCK, path_, path_);
  ofdLock(dataFd_, 1, F_RDLCK, path_, path_);
  struct stat st;
  if (::fstat(dataFd_, &st) != 0) failOs(errno, "fstat", path_, "cannot open pool " + path_);
  device_ = S_ISCHR(st.st_mode);
  if (!device_ && !S_ISREG(st.st_mode)) fail("ESHELF_NAME", path_ + " is neither a regular file nor a character device");
  const char* reset = getenv("DAX_RESET");
  bool daxReset = reset && strcmp(reset, "1") == 0;
  if (!readOnly_ && (o.forceNew || daxReset || (!device_ && st.st_size == 0))) {
    if (!device_ && o.size == 0 && st.st_size == 0) fail("ESHELF_NOT_FOUND", "pool " + path_ + " does not exist (give a size to create it)");
    if (daxReset) TSMM_LOG(1, "DAX_RESET=1: clearing %s", path_.c_str());
    ofdLock(dataFd_, 1, F_WRLCK, path_, path_);  // no reader may hold the old contents
    createSingle(o, device_);
    ofdLock(dataFd_, 1, F_RDLCK, path_, path_);
    return;
  }
  uint8_t sb[fmt::kSuperSize];
  ssize_t r = sys::pread(dataFd_, sb, sizeof sb, 0);
  if (r < 0) failOs(errno, "pread", path_, "cannot read pool " + path_);
  std::string why;
  if (!fmt::decodeSuper(sb, (size_t)r, &super_, &why)) fail("ESHELF_CORRUPT", path_ + ": " + why);
  if (super_.layout != fmt::kLayoutSingle) fail("ESHELF_CORRUPT", path_ + ": superblock says pair layout");
  uint64_t size = device_ ? deviceSize(st, path_) : (uint64_t)st.st_size / fmt::kPage * fmt::kPage;
  if (size < super_.dataStart + fmt::kPage) fail("ESHELF_CORRUPT", path_ + ": truncated region");
  if (!readOnly_ && !device_ && sys::fallocate(dataFd_, 0, (off_t)size) != 0) {
    failOs(errno, "posix_fallocate", path_, "cannot reserve the space of pool " + path_);
  }
  mapRegion(size, o.maxSize);
  uint64_t half = chooseHalf();
  fixActiveWord(half);
  log_.reset(new RegionLog(base_, super_.logOffset, super_.logHalf, half, method_, path_, &poisoned_));
  loadIndex();
}

// chooseHalf -- the single layout's live log half. The active word is the commit point of a switch (it is
// written after the new half is persisted), so it decides -- provided the half it names is whole: a valid header
// and, for a compacted log (epoch > 1), a whole compaction batch. The other half wins only if it is whole with a
// higher epoch: a switch whose word never reached the medium (the state is the same either way) or a damaged
// word. A word naming a damaged half is ESHELF_CORRUPT: the other half holds an older state, and silently
// going back to it would lose commits.
uint64_t PoolCore::chooseHalf() const {
  fmt::LogHeader h[2];
  bool hdr[2], whole[2];
  std::string why;
  for (int i = 0; i < 2; i++) {
    const uint8_t* p = base_ + super_.logOffset + i * super_.logHalf;
    hdr[i] = fmt::decodeLogHeader(p, fmt::kLogHeaderSize, &h[i], &why) && h[i].uuid == super_.uuid;
    whole[i] = hdr[i];
    if (hdr[i] && h[i].epoch > 1) {
      fmt::ParsedBatch b;
      whole[i] = fmt::parseBatch(p + fmt::kLogHeaderSize, super_.logHalf - fmt::kLogHeaderSize, h[i].baseSeq + 1, h[i].epoch,
                                 fmt::logHeaderCrc(p), &b, &why) == fmt::Parse::Ok;
    }
  }
  uint64_t word = fmt::rd64(base_ + fmt::kActiveHalfOff);
  uint64_t pick;
  if (word <= 1) {
    uint64_t o = 1 - word;
    if (!whole[word]) {
      fail("ESHELF_CORRUPT", path_ + ": the active index log half (" + std::to_string(word) + ") is damaged" +
                                 (hdr[word] ? ": its compaction batch is not whole" : ": bad header"));
    }
    pick = whole[o] && h[o].epoch > h[word].epoch ? o : word;
  } else {
    if (!whole[0] && !whole[1]) fail("ESHELF_CORRUPT", path_ + ": bad active-half word and no whole index log half");
    pick = !whole[1] ? 0 : !whole[0] ? 1 : (h[1].epoch > h[0].epoch ? 1 : 0);
  }
  if (whole[0] && whole[1] && h[0].epoch == h[1].epoch) fail("ESHELF_CORRUPT", path_ + ": both index log halves claim the same epoch");
  if (word != pick) TSMM_LOG(1, "%s: active-half word says %llu, using half %llu", path_.c_str(), (unsigned long long)word, (unsigned long long)pick);
  return pick;
}

// fixActiveWord -- a writable open makes the word name the half in use, so that it stays the commit point.
void PoolCore::fixActiveWord(uint64_t half) {
  if (readOnly_ || fmt::rd64(base_ + fmt::kActiveHalfOff) == half) return;
  fmt::wr64(base_ + fmt::kActiveHalfOff, half);
  persistOrThrow(fmt::kActiveHalfOff, 8, "cannot repair the active-half word");
}

// createSingle -- lay out a new single-file pool; the superblock is written last (commit point).
void PoolCore::createSingle(const OpenOptions& o, bool isDevice) {
  struct stat st;
  if (::fstat(dataFd_, &st) != 0) failOs(errno, "fstat", path_, "cannot create pool " + path_);
  uint64_t size = isDevice ? deviceSize(st, path_) : fmt::alignUp(o.size ? o.size : (uint64_t)st.st_size, fmt::kPage);
  uint64_t half = o.logSize ? fmt::alignUp(o.logSize, fmt::kPage)
                            : std::min<uint64_t>(std::max<uint64_t>(fmt::alignUp(size / 64, fmt::kPage), 64 * 1024), 256 * kMiB);
  uint64_t dataStart = fmt::kSuperSize + 2 * half;
  if (size < dataStart + fmt::kPage) {
    failRange("pool " + path_ + ": size " + std::to_string(size) + " is too small for the single layout (needs more than " +
              std::to_string(dataStart) + " bytes)");
  }
  if (!isDevice) {
    if (sys::ftruncate(dataFd_, 0) != 0) failOs(errno, "ftruncate", path_, "cannot create pool " + path_);
    if (sys::fallocate(dataFd_, 0, (off_t)size) != 0) {
      int e = errno;
      ::ftruncate(dataFd_, 0);
      failOs(e, "posix_fallocate", path_, "cannot create pool " + path_ + " of " + std::to_string(size) + " bytes");
    }
  }
  super_ = fmt::Super();
  super_.uuid = fmt::newUuid();
  super_.layout = fmt::kLayoutSingle;
  super_.dataStart = dataStart;
  super_.logOffset = fmt::kSuperSize;
  super_.logHalf = half;
  super_.createdNs = nowNs();
  mapRegion(size, o.maxSize);
  try {
    createSingleLayout(size, half, isDevice);
  } catch (...) {
    // an empty file is a creation that never finished: leave that, not a full-size file without a superblock
    if (!isDevice) ::ftruncate(dataFd_, 0);
    throw;
  }
}

// createSingleLayout -- write the single layout's structures into the mapped region, superblock last.
void PoolCore::createSingleLayout(uint64_t size, uint64_t half, bool isDevice) {
  memset(base_, 0, fmt::kSuperSize);  // invalidate any old superblock first
  persistOrThrow(0, fmt::kSuperSize, "cannot create pool");
  fmt::LogHeader h;
  h.uuid = super_.uuid;
  fmt::encodeLogHeader(h, base_ + super_.logOffset);
  memset(base_ + super_.logOffset + fmt::kLogHeaderSize, 0, fmt::kBatchHeaderSize);
  memset(base_ + super_.logOffset + half, 0, fmt::kLogHeaderSize);  // half 1 holds no valid header
  persistOrThrow(super_.logOffset, fmt::kLogHeaderSize + fmt::kBatchHeaderSize, "cannot create pool");
  persistOrThrow(super_.logOffset + half, fmt::kLogHeaderSize, "cannot create pool");
  uint8_t sb[fmt::kSuperSize];
  fmt::encodeSuper(super_, sb);
  memcpy(base_, sb, fmt::kSuperSize);  // active half word (offset 128) is 0
  persistOrThrow(0, fmt::kSuperSize, "cannot create pool");
  if (!isDevice && sys::fsync(dataFd_) != 0) failOs(errno, "fsync", path_, "cannot create pool " + path_);
  TSMM_LOG(1, "created %s (single): %llu bytes, log halves %llu", path_.c_str(), (unsigned long long)size, (unsigned long long)half);
  log_.reset(new RegionLog(base_, super_.logOffset, half, 0, method_, path_, &poisoned_));
  loadIndex();
}

// mapRegion -- reserve address space once, map the region at its start, choose the persist method.
void PoolCore::mapRegion(uint64_t size, uint64_t maxSize) {
  if (!reserve_) {
    uint64_t want = maxSize ? std::max<uint64_t>(maxSize, size) : std::max<uint64_t>(size * 4, 64 * kGiB);
    want = fmt::alignUp(want, 2 * kMiB);
    void* r = ::mmap(nullptr, want, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) failOs(errno, "mmap", dataPath_, "cannot reserve address space for pool " + path_);
    reserve_ = static_cast<uint8_t*>(r);
    reserveLen_ = want;
    base_ = reserve_;
  }
  if (size > reserveLen_) fail("ESHELF_FULL", "pool " + path_ + ": region larger than its reserved address space");
  struct statfs sfs;
  bool tmpfs = ::fstatfs(dataFd_, &sfs) == 0 && (unsigned long)sfs.f_type == (unsigned long)TMPFS_MAGIC;
  int prot = PROT_READ | PROT_WRITE;
  int flags = MAP_FIXED;
  bool dax = false;
  if (readOnly_) {
    flags |= MAP_PRIVATE | MAP_NORESERVE;  // copy-on-write: a stray store stays in this process, never SIGSEGV
  } else if (device_) {
    flags |= MAP_SHARED;
    dax = true;
  } else {
    // Probe MAP_SYNC on one page first: a failed MAP_FIXED attempt could punch a hole in the reservation.
    void* probe = ::mmap(nullptr, fmt::kPage, prot, MAP_SHARED_VALIDATE | MAP_SYNC, dataFd_, 0);
    if (probe != MAP_FAILED) {
      ::munmap(probe, fmt::kPage);
      flags |= MAP_SHARED_VALIDATE | MAP_SYNC;
      dax = true;
    } else {
      flags |= MAP_SHARED;
    }
  }
  void* m = sys::mmap(base_, size, prot, flags, dataFd_, 0);
  if (m == MAP_FAILED) failOs(errno, "mmap", dataPath_, "cannot map pool " + path_);
  size_ = size;
  if (device_) { medium_ = Medium::DevDax; method_ = cpuFlushMethod(); }
  else if (dax) { medium_ = Medium::Dax; method_ = cpuFlushMethod(); }
  else if (tmpfs) { medium_ = Medium::Tmpfs; method_ = PersistMethod::Fence; }
  else { medium_ = Medium::File; method_ = PersistMethod::Msync; }
  const char* force = getenv("TSMM_PERSIST");  // test/bench override: msync|fence|clflush|clflushopt|clwb
  if (force && *force) {
    std::string f = force;
    if (f == "msync") method_ = PersistMethod::Msync;
    else if (f == "fence") method_ = PersistMethod::Fence;
    else if (f == "clflush") method_ = PersistMethod::Clflush;
  }
}

// loadIndex -- replay, validate every entry against the region, rebuild the allocator, cut a torn tail.
void PoolCore::loadIndex() {
  std::vector<uint8_t> img = log_->readAll();
  entries_.clear();
  const std::string what = single_ ? path_ + " (index)" : mapPath_;
  st_ = replayLog(img.data(), img.size(), super_.uuid, &entries_, what);
  liveLog_ = fmt::kLogHeaderSize + fmt::kBatchHeaderSize;
  std::vector<Allocator::LiveExt> live;
  live.reserve(entries_.size());
  for (const auto& kv : entries_) {
    const Entry& e = kv.second;
    liveLog_ += fmt::opSize(kv.first.size(), e.meta.size(), true);
    if (e.length == 0) {
      if (e.offset != 0) fail("ESHELF_CORRUPT", what + ": entry \"" + kv.first + "\" has an offset but no length");
      continue;
    }
    uint64_t align = e.length >= fmt::kPage ? fmt::kPage : fmt::kMinAlign;
    if (e.length > size_) {
      fail("ESHELF_CORRUPT", what + ": entry \"" + kv.first + "\" is longer (" + std::to_string(e.length) + " bytes) than the region");
    }
    if (e.offset % align != 0) {
      fail("ESHELF_CORRUPT", what + ": entry \"" + kv.first + "\" names a misaligned extent at " + std::to_string(e.offset));
    }
    live.push_back({e.offset, e.length, &kv.first});
  }
  if (!alloc_.rebuild(super_.dataStart, size_, live)) {
    // find the culprit for the message
    std::string culprit;
    for (const auto& kv : entries_) {
      uint64_t end;
      if (kv.second.length && (kv.second.offset < super_.dataStart || fmt::addOver(kv.second.offset, Allocator::alignedSize(kv.second.length), &end) || end > size_)) {
        culprit = kv.first;
        break;
      }
    }
    fail("ESHELF_CORRUPT", what + (culprit.empty() ? std::string(": two entries overlap") : ": entry \"" + culprit + "\" lies outside the region"));
  }
  if (!readOnly_ && st_.tail < st_.end) {
    TSMM_LOG(1, "recovery: %s: dropping torn tail of %llu bytes after seq %llu", what.c_str(),
             (unsigned long long)(st_.end - st_.tail), (unsigned long long)st_.seq);
    if (!single_) log_->truncate(st_.tail);
    else {
      // in the single layout the rest of the half is whatever was there before: only a torn batch
      // header right at the tail needs clearing, so that it can never be mistaken for a later batch.
      fmt::ParsedBatch b;
      std::string why;
      uint64_t avail = img.size() - st_.tail;
      if (avail >= 4 && memcmp(img.data() + st_.tail, "TSMB", 4) == 0) log_->truncate(st_.tail);
      (void)b; (void)why;
    }
    st_.end = st_.tail;
  }
}

// ---------------------------------------------------------------------------------------------
// state checks

void PoolCore::requireOpen() const {
  if (closed_) fail("ESHELF_CLOSED", "pool " + path_ + " is closed");
}

void PoolCore::requireWritable() const {
  requireOpen();
  if (readOnly_) fail("ESHELF_READONLY", "pool " + path_ + " is open read-only");
  if (poisoned_) fail("ESHELF_IO", "pool " + path_ + " had a failed sync: re-open it to recover before committing again");
}

void PoolCore::persistOrThrow(uint64_t off, uint64_t len, const char* what) {
  int e = persistRange(method_, base_ + off, (size_t)len);
  if (e != 0) failOs(e, "msync", dataPath_, std::string(what) + " (pool " + path_ + ")");
}

// ---------------------------------------------------------------------------------------------
// allocate

uint64_t PoolCore::alloc(uint64_t len) {
  requireWritable();
  if (len == 0) failRange("alloc: length must be at least 1 byte");
  uint64_t off;
  if (!alloc_.alloc(len, &off)) {
    uint64_t pinned = alloc_.bytesIn(ExtState::Pinned);
    fail("ESHELF_FULL", "pool " + path_ + " is full: cannot allocate " + std::to_string(len) + " bytes (" +
                            std::to_string(alloc_.freeBytes()) + " free, largest " + std::to_string(alloc_.largestFree()) +
                            (pinned ? ", " + std::to_string(pinned) + " held by live views of erased entries" : std::string()) + ")");
  }
  TSMM_LOG(3, "alloc %llu -> %llu", (unsigned long long)len, (unsigned long long)off);
  return off;
}

void PoolCore::release(uint64_t off) {
  requireWritable();
  ExtInfo* e = alloc_.find(off);
  if (!e || e->state != ExtState::Reserved) failRange("release: no uncommitted allocation at offset " + std::to_string(off));
  alloc_.unname(off);
}

// ---------------------------------------------------------------------------------------------
// commit

// commit -- validate the whole batch against a simulated final state, persist new extents' data,
// append the batch durably, then apply it. Nothing changes if anything throws before the append
// returns.
uint64_t PoolCore::commit(std::vector<BatchOp>& ops) {
  requireWritable();
  if (ops.empty()) return st_.seq;
  struct Final { bool present; uint64_t offset, length; };
  std::unordered_map<std::string, Final> overlay;
  auto lookup = [&](const std::string& n, Final* f) -> bool {
    auto o = overlay.find(n);
    if (o != overlay.end()) { *f = o->second; return f->present; }
    auto e = entries_.find(n);
    if (e == entries_.end()) return false;
    *f = Final{true, e->second.offset, e->second.length};
    return true;
  };
  for (BatchOp& op : ops) {
    if (!fmt::validUtf8Name(op.name)) {
      std::string shown = op.name.substr(0, 40);
      while (!shown.empty() && !fmt::validUtf8Name(shown)) shown.pop_back();  // don't cut a character in half
      fail("ESHELF_NAME", "entry name \"" + shown + (op.name.size() > 40 ? "..." : "") + "\" (" +
                              std::to_string(op.name.size()) + " bytes) must be 1-255 bytes of valid UTF-8 (pool " + path_ + ")");
    }
    Final cur;
    bool has = lookup(op.name, &cur);
    if (!op.put) {
      if (!has) fail("ESHELF_NOT_FOUND", "cannot erase \"" + op.name + "\": no such entry in pool " + path_);
      overlay[op.name] = Final{false, 0, 0};
      continue;
    }
    if (op.meta.size() > fmt::kMaxMeta) failRange("meta of \"" + op.name + "\" exceeds 1 MiB");
    if (op.length == 0) {
      if (op.offset != 0) failRange("put \"" + op.name + "\": an entry without length must have offset 0");
    } else {
      ExtInfo* x = alloc_.find(op.offset);
      if (!x || x->state == ExtState::Pinned) {
        failRange("put \"" + op.name + "\": offset " + std::to_string(op.offset) + " is not an allocated extent");
      }
      if (Allocator::alignedSize(op.length) != x->length) {
        failRange("put \"" + op.name + "\": length " + std::to_string(op.length) + " does not match the extent allocated at " +
                  std::to_string(op.offset));
      }
    }
    overlay[op.name] = Final{true, op.offset, op.length};
  }
  // Each extent may be named at most once in the final state; a live extent may move to another
  // name only if its current owner is re-put or erased in this batch.
  std::unordered_map<uint64_t, const std::string*> finalOwner;
  for (const auto& kv : overlay) {
    if (!kv.second.present || kv.second.length == 0) continue;
    auto ins = finalOwner.emplace(kv.second.offset, &kv.first);
    if (!ins.second) failRange("batch names the extent at " + std::to_string(kv.second.offset) + " twice (\"" + kv.first + "\", \"" + *ins.first->second + "\")");
  }
  for (const auto& kv : finalOwner) {
    ExtInfo* x = alloc_.find(kv.first);
    if (x->state != ExtState::Live || !x->owner || *x->owner == *kv.second || overlay.count(*x->owner)) continue;
    failRange("put \"" + *kv.second + "\": the extent at " + std::to_string(kv.first) + " is named by \"" + *x->owner + "\"");
  }
  // 1. persist the data of every extent that is newly named (its name had another extent, or none),
  //    page ranges merged so that a batch of many small puts costs few syncs.
  std::vector<std::pair<uint64_t, uint64_t>> dirty;
  for (const auto& kv : overlay) {
    if (!kv.second.present || kv.second.length == 0) continue;
    auto e = entries_.find(kv.first);
    if (e != entries_.end() && e->second.offset == kv.second.offset && e->second.length) continue;
    dirty.emplace_back(kv.second.offset, kv.second.offset + kv.second.length);
  }
  std::sort(dirty.begin(), dirty.end());
  if (!dirty.empty() && method_ == PersistMethod::Msync) {
    // msync's cost is the file system's flush, not the pages it walks: one call over the hull of all
    // new extents is far cheaper than one per extent (clean pages in between are skipped by the kernel).
    uint64_t lo = dirty.front().first, hi = 0;
    for (const auto& d : dirty) hi = std::max(hi, d.second);
    persistOrThrow(lo, hi - lo, "cannot persist entry data");
    dirty.clear();
  }
  for (size_t i = 0; i < dirty.size();) {
    uint64_t s0 = dirty[i].first, e0 = dirty[i].second;
    size_t j = i + 1;
    while (j < dirty.size() && dirty[j].first <= fmt::alignUp(e0, 64)) { e0 = std::max(e0, dirty[j].second); j++; }
    persistOrThrow(s0, e0 - s0, "cannot persist entry data");
    i = j;
  }
  // 2. append the batch durably.
  std::vector<fmt::Op> fops;
  fops.reserve(ops.size());
  for (BatchOp& op : ops) {
    fmt::Op f;
    f.type = op.put ? fmt::kOpPut : fmt::kOpErase;
    f.name = op.name;
    if (op.put) { f.meta = std::move(op.meta); f.offset = op.offset; f.length = op.length; }
    fops.push_back(std::move(f));
  }
  std::vector<uint8_t> bytes;
  uint32_t crc = fmt::encodeBatch(fops, st_.seq + 1, st_.header.epoch, st_.lastCrc, &bytes);
  if (bytes.size() - fmt::kBatchHeaderSize > fmt::kMaxPayload) failRange("batch too large (over 1 GiB of index)");
  if (st_.tail + bytes.size() > log_->capacity()) {
    compact();
    crc = 0;
    bytes.clear();
    crc = fmt::encodeBatch(fops, st_.seq + 1, st_.header.epoch, st_.lastCrc, &bytes);
    if (st_.tail + bytes.size() > log_->capacity()) {
      fail("ESHELF_FULL", "pool " + path_ + ": index log area is full: a batch of " + std::to_string(bytes.size()) +
                              " bytes putting \"" + fops[0].name + "\" does not fit (re-create with a larger logSize)");
    }
  }
  try {
    log_->append(bytes.data(), bytes.size(), st_.tail);
  } catch (ShelfErr&) {
    throw;  // nothing applied; poisoned_ set by the store if the failure could not be undone
  }
  // 3. apply.
  uint64_t seq = st_.seq + 1;
  std::vector<uint64_t> oldExtents;
  for (const auto& kv : overlay) {
    auto e = entries_.find(kv.first);
    if (e != entries_.end()) {
      liveLog_ -= fmt::opSize(kv.first.size(), e->second.meta.size(), true);
      if (e->second.length) oldExtents.push_back(e->second.offset);
    }
  }
  for (fmt::Op& f : fops) {
    if (f.type == fmt::kOpPut) {
      Entry& e = entries_[f.name];
      e.offset = f.offset;
      e.length = f.length;
      e.seq = seq;
      e.meta = std::move(f.meta);
    } else {
      entries_.erase(f.name);
    }
  }
  for (const auto& kv : overlay) {
    auto e = entries_.find(kv.first);
    if (e != entries_.end()) liveLog_ += fmt::opSize(kv.first.size(), e->second.meta.size(), true);
  }
  for (uint64_t off : oldExtents) {
    if (!finalOwner.count(off)) alloc_.unname(off);
  }
  for (const auto& kv : finalOwner) {
    ExtInfo* x = alloc_.find(kv.first);
    alloc_.setState(x, ExtState::Live);
    auto named = entries_.find(*kv.second);
    x->owner = &named->first;
    x->want = named->second.length;
  }
  st_.seq = seq;
  st_.lastCrc = crc;
  st_.tail += bytes.size();
  st_.end = st_.tail;
  TSMM_LOG(2, "commit %s seq %llu: %zu ops, %zu bytes", path_.c_str(), (unsigned long long)seq, ops.size(), bytes.size());
  maybeCompact();
  return seq;
}

// maybeCompact -- rewrite the log once it is more than twice its live size (and worth the trouble).
void PoolCore::maybeCompact() {
  uint64_t cap = log_->capacity();
  bool big = st_.tail > 2 * liveLog_ && st_.tail > kCompactFloor;
  bool crowded = cap != UINT64_MAX && st_.tail > cap / 4 * 3 && st_.tail > liveLog_ * 5 / 4;
  if (!big && !crowded) return;
  try {
    compact();
  } catch (ShelfErr& e) {
    TSMM_LOG(1, "compaction of %s failed (the commit stands): %s", path_.c_str(), e.message.c_str());
  }
}

// compact -- write the live entries as a new log (epoch + 1) and switch to it atomically.
void PoolCore::compact() {
  requireWritable();
  if (st_.seq == 0) return;  // nothing was ever committed: the log is its header
  ReplayState ns;
  std::vector<uint8_t> img = compactImage(super_.uuid, st_.header.epoch + 1, st_.seq, entries_, &ns);
  try {
    log_->replaceAll(img);
  } catch (...) {
    if (!single_) mapFd_ = static_cast<FileLog*>(log_.get())->fd();  // the store may have switched files
    throw;
  }
  if (!single_) mapFd_ = static_cast<FileLog*>(log_.get())->fd();  // the new .map (locked) replaced the old fd
  TSMM_LOG(1, "compacted %s: %llu -> %zu bytes", path_.c_str(), (unsigned long long)st_.tail, img.size());
  st_ = ns;
}

// ---------------------------------------------------------------------------------------------
// read side

const Entry* PoolCore::get(const std::string& name) const {
  requireOpen();
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> PoolCore::names(const std::string& prefix) const {
  requireOpen();
  std::vector<std::string> out;
  for (const auto& kv : entries_) {
    if (kv.first.compare(0, prefix.size(), prefix) == 0) out.push_back(kv.first);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// addView -- a view of [off, off+len) may be handed out only inside one allocated or named extent.
uint64_t PoolCore::addView(uint64_t off, uint64_t len) {
  requireOpen();
  uint64_t end;
  if (fmt::addOver(off, len, &end) || end > size_) failRange("view [" + std::to_string(off) + ", +" + std::to_string(len) + ") is outside pool " + path_);
  if (len > fmt::kMaxView) failRange("view of " + std::to_string(len) + " bytes exceeds the 4 GiB limit of one buffer: view it in windows");
  uint64_t base = 0;
  ExtInfo* x = alloc_.containing(off, len == 0 ? 1 : len, &base);
  if (!x || x->state == ExtState::Pinned) {
    failRange("view [" + std::to_string(off) + ", +" + std::to_string(len) + ") does not lie inside one extent of pool " + path_);
  }
  x->views++;
  return base;
}

void PoolCore::dropView(uint64_t extentBase) { alloc_.dropView(extentBase); }

void PoolCore::writeBytes(uint64_t off, const uint8_t* src, size_t n) {
  requireWritable();
  checkRange(off, n, "write");
  if (n == 0) return;
  if (medium_ == Medium::File && n >= 64 * 1024) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(dataFd_, src + done, n - done, (off_t)(off + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;  // fall back to the mapping for the rest
      done += (size_t)w;
    }
    if (done < n) memmove(base_ + off + done, src + done, n - done);
    return;
  }
  memmove(base_ + off, src, n);
}

void PoolCore::checkRange(uint64_t off, uint64_t len, const char* what) const {
  requireOpen();
  uint64_t base = 0;
  const ExtInfo* x = const_cast<Allocator&>(alloc_).containing(off, len == 0 ? 1 : len, &base);
  if (!x || x->state == ExtState::Pinned) {
    failRange(std::string(what) + " [" + std::to_string(off) + ", +" + std::to_string(len) + ") does not lie inside one extent of pool " + path_);
  }
}

void PoolCore::persist(uint64_t off, uint64_t len) {
  requireOpen();
  if (readOnly_) fail("ESHELF_READONLY", "pool " + path_ + " is open read-only: nothing to persist");
  uint64_t end;
  if (fmt::addOver(off, len, &end) || end > size_) failRange("persist [" + std::to_string(off) + ", +" + std::to_string(len) + ") is outside pool " + path_);
  persistOrThrow(off, len, "persist failed");
}

// zero -- see header. Edges that are not whole pages are cleared with memset.
void PoolCore::zero(uint64_t off, uint64_t len) {
  requireWritable();
  checkRange(off, len, "zero");
  if (len == 0) return;
  uint64_t a = fmt::alignUp(off, fmt::kPage), b = (off + len) / fmt::kPage * fmt::kPage;
  bool done = false;
  if (b > a + 16 * fmt::kPage && !device_ && medium_ != Medium::Dax) {
    if (::fallocate(dataFd_, FALLOC_FL_ZERO_RANGE, (off_t)a, (off_t)(b - a)) == 0) {
      done = true;
    } else if (::fallocate(dataFd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a, (off_t)(b - a)) == 0) {
      // the hole must be reserved again, or a later store could SIGBUS on a full disk
      if (sys::fallocate(dataFd_, (off_t)a, (off_t)(b - a)) != 0) failOs(errno, "posix_fallocate", dataPath_, "cannot re-reserve zeroed space of pool " + path_);
      done = true;
    }
  }
  if (done) {
    if (a > off) memset(base_ + off, 0, a - off);
    if (off + len > b) memset(base_ + b, 0, off + len - b);
  } else {
    memset(base_ + off, 0, len);
  }
}

// advise -- see header.
void PoolCore::advise(uint64_t off, uint64_t len, const std::string& advice) {
  checkRange(off, len, "advise");
  int a;
  if (advice == "dontneed") a = MADV_DONTNEED;
  else if (advice == "willneed") a = MADV_WILLNEED;
  else if (advice == "sequential") a = MADV_SEQUENTIAL;
  else if (advice == "random") a = MADV_RANDOM;
  else if (advice == "normal") a = MADV_NORMAL;
  else failRange("advise: unknown advice \"" + advice + "\" (expected dontneed, willneed, sequential, random or normal)");
  if (len == 0) return;
  // whole pages only for dontneed (it must never drop bytes of a neighbouring extent's page it shares... it
  // cannot lose data on a shared mapping, but keep to the extent's own pages); widen for the hints
  uint64_t lo = a == MADV_DONTNEED ? fmt::alignUp(off, fmt::kPage) : off / fmt::kPage * fmt::kPage;
  uint64_t hi = a == MADV_DONTNEED ? (off + len) / fmt::kPage * fmt::kPage : fmt::alignUp(off + len, fmt::kPage);
  if (hi <= lo) return;
  if (a == MADV_DONTNEED && readOnly_) return;  // a private (copy-on-write) mapping would lose local stores: skip
  if (::madvise(base_ + lo, hi - lo, a) != 0) failOs(errno, "madvise", dataPath_, "advise failed (pool " + path_ + ")");
}

// grow -- reserve the new space on disk, make the new size durable, map it right after the old end.
void PoolCore::grow(uint64_t newSize) {
  requireWritable();
  newSize = fmt::alignUp(newSize, fmt::kPage);
  if (newSize <= size_) failRange("grow: new size " + std::to_string(newSize) + " must exceed the current size " + std::to_string(size_));
  if (device_) fail("ESHELF_FULL", "pool " + path_ + " is a device: it cannot grow");
  if (newSize > reserveLen_) {
    fail("ESHELF_FULL", "pool " + path_ + ": cannot grow past the " + std::to_string(reserveLen_) +
                            " bytes of address space reserved at open (re-open with a larger maxSize)");
  }
  uint64_t old = size_;
  auto undo = [&](int e, const char* call) {
    ::ftruncate(dataFd_, (off_t)old);
    failOs(e, call, dataPath_, "cannot grow pool " + path_ + " to " + std::to_string(newSize) + " bytes");
  };
  if (sys::fallocate(dataFd_, (off_t)old, (off_t)(newSize - old)) != 0) undo(errno, "posix_fallocate");
  if (sys::fsync(dataFd_) != 0) undo(errno, "fsync");
  int flags = MAP_FIXED | (medium_ == Medium::Dax ? (MAP_SHARED_VALIDATE | MAP_SYNC) : MAP_SHARED);
  void* m = sys::mmap(base_ + old, newSize - old, PROT_READ | PROT_WRITE, flags, dataFd_, (off_t)old);
  if (m == MAP_FAILED) {
    int e = errno;
    // give the hole back to the reservation so nothing else can land inside it
    ::mmap(base_ + old, newSize - old, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    undo(e, "mmap");
  }
  size_ = newSize;
  alloc_.extend(newSize);
  TSMM_LOG(1, "grew %s: %llu -> %llu bytes", path_.c_str(), (unsigned long long)old, (unsigned long long)newSize);
}

// refreshIndex -- one attempt of a reader's refresh: continue the replay, or start over when the log
// was replaced (compaction: a new .map inode, or the other half / a new epoch in the single layout).
void PoolCore::refreshIndex() {
  if (single_) {
    uint64_t active = chooseHalf();
    RegionLog* rl = static_cast<RegionLog*>(log_.get());
    uint64_t epoch = fmt::rd64(base_ + super_.logOffset + active * super_.logHalf + 32);
    bool restart = active != rl->active() || epoch != st_.header.epoch;
    std::unique_ptr<RegionLog> next;
    if (restart) next.reset(new RegionLog(base_, super_.logOffset, super_.logHalf, active, method_, path_, &poisoned_));
    std::vector<uint8_t> img = (restart ? next.get() : rl)->readAll();
    if (chooseHalf() != active) fail("ESHELF_CORRUPT", path_ + ": the writer switched index halves during the read");
    if (restart) {
      EntryMap fresh;
      ReplayState ns = replayLog(img.data(), img.size(), super_.uuid, &fresh, path_ + " (index)");
      entries_.swap(fresh);
      st_ = ns;
      log_ = std::move(next);
    } else {
      replayMore(img.data(), img.size(), &st_, &entries_, path_ + " (index)");
    }
    return;
  }
  FileLog* fl = static_cast<FileLog*>(log_.get());
  if (fl->changed()) {
    int fd = ::open(mapPath_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) failOs(errno, "open", mapPath_, "cannot refresh pool " + path_);
    Fd guard(fd);
    FileLog probe(fd, mapPath_, &poisoned_);
    std::vector<uint8_t> img = probe.readAll();
    EntryMap fresh;
    ReplayState ns = replayLog(img.data(), img.size(), super_.uuid, &fresh, mapPath_);
    ::close(mapFd_);
    mapFd_ = guard.release();
    fl->setFd(mapFd_);
    entries_.swap(fresh);
    st_ = ns;
  } else {
    std::vector<uint8_t> img = fl->readAll();
    if (img.size() > st_.tail) replayMore(img.data(), img.size(), &st_, &entries_, mapPath_);
  }
}

// refresh -- readers: pick up batches the writer committed since open (and a grown region).
bool PoolCore::refresh() {
  requireOpen();
  if (!readOnly_) return false;
  uint64_t before = st_.seq;
  // A reader copies the log while the writer appends to it (or switches halves): a copy can be torn, which
  // looks like damage ("later batches follow") or a half switch mid-copy. That is a torn *read*: read again.
  for (int attempt = 0;; attempt++) {
    try {
      refreshIndex();
      break;
    } catch (const ShelfErr& e) {
      if (e.code != "ESHELF_CORRUPT" || attempt >= 50) throw;
      TSMM_LOG(2, "refresh %s: %s; reading again", path_.c_str(), e.message.c_str());
      usleep(1000);
    }
  }
  struct stat st;
  if (::fstat(dataFd_, &st) == 0) {
    uint64_t size = (uint64_t)st.st_size / fmt::kPage * fmt::kPage;
    if (size > size_ && size <= reserveLen_) {
      void* m = sys::mmap(base_ + size_, size - size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED,
                          dataFd_, (off_t)size_);
      if (m != MAP_FAILED) size_ = size;
    }
  }
  // rebuild the extent map readers use to check views (named extents only)
  std::vector<Allocator::LiveExt> live;
  for (const auto& kv : entries_) {
    if (kv.second.length) live.push_back({kv.second.offset, kv.second.length, &kv.first});
  }
  Allocator fresh;
  if (!fresh.rebuild(super_.dataStart, size_, live)) fail("ESHELF_CORRUPT", mapPath_ + ": entries overlap or lie outside the region");
  alloc_ = std::move(fresh);
  return st_.seq != before;
}

Stats PoolCore::stats() const {
  requireOpen();
  Stats s{};
  s.size = size_;
  s.dataStart = super_.dataStart;
  s.used = alloc_.bytesIn(ExtState::Live);
  s.reserved = alloc_.bytesIn(ExtState::Reserved);
  s.pinned = alloc_.bytesIn(ExtState::Pinned);
  s.free = alloc_.freeBytes();
  s.largestFree = alloc_.largestFree();
  s.fragmentation = s.free ? 1.0 - (double)s.largestFree / (double)s.free : 0.0;
  s.entries = entries_.size();
  s.seq = st_.seq;
  s.logBytes = st_.tail;
  s.liveLogBytes = liveLog_;
  switch (medium_) {
    case Medium::File: s.medium = "file"; break;
    case Medium::Tmpfs: s.medium = "tmpfs"; break;
    case Medium::Dax: s.medium = "dax"; break;
    case Medium::DevDax: s.medium = "devdax"; break;
  }
  s.persistMethod = persistMethodName(method_);
  s.durable = medium_ != Medium::Tmpfs;
  s.single = single_;
  s.readOnly = readOnly_;
  return s;
}

// close -- unmap and unlock. The JS layer has detached every view before calling this.
void PoolCore::close() {
  if (closed_) return;
  closed_ = true;
  if (reserve_) ::munmap(reserve_, reserveLen_);
  reserve_ = base_ = nullptr;
  log_.reset();
  if (mapFd_ >= 0) ::close(mapFd_);
  if (dataFd_ >= 0) ::close(dataFd_);
  mapFd_ = dataFd_ = -1;
  entries_.clear();
  TSMM_LOG(1, "closed %s", path_.c_str());
}

PoolCore::~PoolCore() { close(); }

// destroy -- remove a pool's files, only when nobody has it open.
void PoolCore::destroy(const std::string& path, bool single) {
  std::vector<std::string> files = single ? std::vector<std::string>{path} : std::vector<std::string>{path + ".map", path + ".data"};
  std::vector<std::unique_ptr<Fd>> held;
  for (const std::string& f : files) {
    int fd = ::open(f.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      failOs(errno, "open", f, "cannot destroy pool " + path);
    }
    held.emplace_back(new Fd(fd));
    if (single) {
      ::close(held.back()->release());
      fd = ::open(f.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) failOs(errno, "open", f, "cannot destroy pool " + path);
      held.back()->fd = fd;
      ofdLock(fd, 0, F_WRLCK, f, path);
      ofdLock(fd, 1, F_WRLCK, f, path);
    } else {
      lockOrFail(fd, LOCK_EX, f, path);
    }
  }
  if (held.empty()) fail("ESHELF_NOT_FOUND", "pool " + path + " does not exist");
  for (const std::string& f : files) ::unlink(f.c_str());
  ::unlink((path + ".map.compact").c_str());
  fsyncDir(dirOf(path));
}

bool PoolCore::exists(const std::string& path, bool single) {
  struct stat st;
  if (single) return ::lstat(path.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) && (S_ISCHR(st.st_mode) || st.st_size > 0);
  return ::lstat((path + ".map").c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
         ::lstat((path + ".data").c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace tsmm
