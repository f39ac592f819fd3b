// sys.hpp -- every system call the engine makes that can fail in a way worth testing.
//
// Each wrapper behaves exactly like the libc call (returns -1 and sets errno on failure),
// except that a test can make it fail on purpose: injectFault("fdatasync", EIO, after, count)
// makes the (after+1)-th call from now and the `count - 1` following ones fail with EIO.
// This is the engine's test-only fault hook (issue: reliability campaign). With no fault
// armed the cost is one relaxed load per call.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <string>

namespace tsmm {
namespace sys {

int fallocate(int fd, off_t offset, off_t len);  // posix_fallocate semantics, but -1/errno
int msync(void* addr, size_t len, int flags);
int fdatasync(int fd);
int fsync(int fd);
void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off);
int rename(const char* from, const char* to);
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off);  // loops until n bytes or error
ssize_t pread(int fd, void* buf, size_t n, off_t off);         // loops until n bytes, EOF or error
int ftruncate(int fd, off_t len);

// injectFault -- arm a failure of `call` with errno `err` after `after` successful calls, `count` times.
bool injectFault(const std::string& call, int err, long after, long count);
// clearFaults -- disarm everything.
void clearFaults();

}  // namespace sys
}  // namespace tsmm
