// trace.hpp -- the power-cut simulator: test build only (tsmm_trace.node, compiled with -DTSMM_TRACE).
//
// A process kill keeps the page cache; a power cut does not. This module keeps, for every file of one pool, a
// shadow "durable image": what the medium is guaranteed to hold. It changes only at barriers:
//   fsync / fdatasync(fd)         the file's whole content and size   (page cache -> durable)
//   msync(addr, len)              the covered pages of the mapped file
//   persistRange (clwb/clflush…)  the covered cache lines (DAX-style persists, e.g. TSMM_PERSIST=clflush)
//   fsync(directory fd)           the names in it: a rename becomes durable
// Stores through the mapping (including those JavaScript makes through views, which no hook sees), pwrite and
// ftruncate only change the live files. At a chosen system call ("event"), *before* it runs, the simulator writes a
// power-cut image of the pool: the shadow, plus a random subset of the units (8 B, 64 B cache line, 512 B sector or
// 4 KiB page -- chosen per image) where the live file differs from it, with the file size either the durable or the
// live one, and for a name whose rename is not yet durable either the old or the new file.
//
// Configuration (environment, read once at the first hook; without TSMM_TRACE_DIR the trace does nothing):
//   TSMM_TRACE_DIR       where images go: DIR/cut-NNNNNN/<pool files>; DIR/journal gets one line per image
//   TSMM_TRACE_POOL      the pool path: PATH (pair: PATH.data, PATH.map, PATH.map.compact are tracked) or the file
//   TSMM_TRACE_LAYOUT    pair | single
//   TSMM_TRACE_PROB      probability that an event is cut (default 1)
//   TSMM_TRACE_VARIANTS  images per cut event (default 1), each with its own granularity and subset
//   TSMM_TRACE_MAX       stop cutting after this many images (default unlimited)
//   TSMM_TRACE_SEED      PRNG seed (default 1)
//   TSMM_TRACE_JOURNAL   journal path (default DIR/journal). The test appends its own lines ("A <n> <seq>" when
//                        commit n was acknowledged) to the same file (O_APPEND), so the file orders cuts and acks.
// Journal line of an image: "C <image> <event> <call> <unit> <percent> <sizes> <names>".
//
// Lifetime: process-global state behind one mutex; files are read through descriptors of our own, so the images
// never touch the mapping (a mapping may be gone by the time a later hook runs).
#pragma once
#include <sys/types.h>

#include <cstddef>

namespace tsmm {
namespace trace {

// before -- a system call `call` on `fd` (or on the mapping at addr) is about to run: maybe cut here.
void before(const char* call, int fd, const void* addr);
// afterSync -- fsync/fdatasync(fd) succeeded: the file (or, for a directory, its names) is durable.
void afterSync(int fd);
// afterPersist -- [addr, addr+len) of a shared file mapping reached the medium (msync, or cache-line flush + fence).
void afterPersist(const void* addr, size_t len, size_t granule);
// afterMmap -- a shared mapping of fd at file offset off now lives at [addr, addr+len).
void afterMmap(void* addr, size_t len, int flags, int fd, off_t off);
// afterRename -- from was renamed to to (not durable until the directory is synced).
void afterRename(const char* from, const char* to);

}  // namespace trace
}  // namespace tsmm
