#include "sys.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

// --- power-cut trace hooks (issue 7). Only the tsmm_trace test build defines TSMM_TRACE (binding.gyp);
// in the normal build these expand to nothing. See trace.hpp for what they record.
#ifdef TSMM_TRACE
#include "trace.hpp"
#define TSMM_TRACE_BEFORE(call, fd, addr) ::tsmm::trace::before(call, fd, addr)
#define TSMM_TRACE_AFTER(stmt) stmt
#else
#define TSMM_TRACE_BEFORE(call, fd, addr) ((void)0)
#define TSMM_TRACE_AFTER(stmt) ((void)0)
#endif
// --- end of trace hooks

namespace tsmm {
namespace sys {
namespace {

enum Call { kFallocate, kMsync, kFdatasync, kFsync, kMmap, kRename, kPwrite, kFtruncate, kCount };
const char* const kNames[kCount] = {"posix_fallocate", "msync", "fdatasync", "fsync", "mmap", "rename", "pwrite", "ftruncate"};

struct Fault {
  int err = 0;
  long after = 0;
  long count = 0;
};
Fault g_faults[kCount];
std::atomic<bool> g_armed{false};

// tripped -- true (and errno set) when an armed fault fires for `c`.
bool tripped(Call c) {
  if (!g_armed.load(std::memory_order_relaxed)) return false;
  Fault& f = g_faults[c];
  if (f.count <= 0) return false;
  if (f.after > 0) {
    f.after--;
    return false;
  }
  f.count--;
  errno = f.err;
  return true;
}

}  // namespace

// fallocate -- reserve blocks so that stores through the mapping never SIGBUS on a full disk.
int fallocate(int fd, off_t offset, off_t len) {
  TSMM_TRACE_BEFORE("posix_fallocate", fd, nullptr);  // trace hook
  if (tripped(kFallocate)) return -1;
  int r = posix_fallocate(fd, offset, len);
  if (r != 0) {
    errno = r;
    return -1;
  }
  return 0;
}

int msync(void* addr, size_t len, int flags) {
  TSMM_TRACE_BEFORE("msync", -1, addr);  // trace hook
  if (tripped(kMsync)) return -1;
  int r = ::msync(addr, len, flags);
  TSMM_TRACE_AFTER(if (r == 0) ::tsmm::trace::afterPersist(addr, len, 4096));  // trace hook
  return r;
}

int fdatasync(int fd) {
  TSMM_TRACE_BEFORE("fdatasync", fd, nullptr);  // trace hook
  if (tripped(kFdatasync)) return -1;
  int r = ::fdatasync(fd);
  TSMM_TRACE_AFTER(if (r == 0) ::tsmm::trace::afterSync(fd));  // trace hook
  return r;
}

int fsync(int fd) {
  TSMM_TRACE_BEFORE("fsync", fd, nullptr);  // trace hook
  if (tripped(kFsync)) return -1;
  int r = ::fsync(fd);
  TSMM_TRACE_AFTER(if (r == 0) ::tsmm::trace::afterSync(fd));  // trace hook
  return r;
}

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (tripped(kMmap)) return MAP_FAILED;
  void* m = ::mmap(addr, len, prot, flags, fd, off);
  TSMM_TRACE_AFTER(if (m != MAP_FAILED) ::tsmm::trace::afterMmap(m, len, flags, fd, off));  // trace hook
  return m;
}

int rename(const char* from, const char* to) {
  TSMM_TRACE_BEFORE("rename", -1, nullptr);  // trace hook
  if (tripped(kRename)) return -1;
  int r = ::rename(from, to);
  TSMM_TRACE_AFTER(if (r == 0) ::tsmm::trace::afterRename(from, to));  // trace hook
  return r;
}

// pwrite -- write all n bytes at off (short writes are retried), -1/errno on failure.
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  TSMM_TRACE_BEFORE("pwrite", fd, nullptr);  // trace hook
  if (tripped(kPwrite)) return -1;
  const char* p = static_cast<const char*>(buf);
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd, p + done, n - done, off + (off_t)done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (w == 0) {
      errno = EIO;
      return -1;
    }
    done += (size_t)w;
  }
  return (ssize_t)done;
}

// pread -- read up to n bytes at off, retrying short reads until EOF.
ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  char* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, p + done, n - done, off + (off_t)done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += (size_t)r;
  }
  return (ssize_t)done;
}

int ftruncate(int fd, off_t len) {
  TSMM_TRACE_BEFORE("ftruncate", fd, nullptr);  // trace hook
  if (tripped(kFtruncate)) return -1;
  return ::ftruncate(fd, len);
}

// injectFault -- see header.
bool injectFault(const std::string& call, int err, long after, long count) {
  for (int i = 0; i < kCount; i++) {
    if (call == kNames[i]) {
      g_faults[i].err = err;
      g_faults[i].after = after;
      g_faults[i].count = count;
      g_armed.store(true);
      return true;
    }
  }
  return false;
}

void clearFaults() {
  for (auto& f : g_faults) f = Fault{};
  g_armed.store(false);
}

}  // namespace sys
}  // namespace tsmm
