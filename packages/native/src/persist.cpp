#include "persist.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "sys.hpp"
#ifdef TSMM_TRACE
#include "trace.hpp"  // trace hook (issue 7), test build only
#endif
#include "util/debug.hpp"

namespace tsmm {
namespace {

constexpr uintptr_t kLine = 64;
constexpr uintptr_t kPage = 4096;

#if defined(__x86_64__)
inline void clwb(const void* p) { asm volatile(".byte 0x66; xsaveopt %0" : "+m"(*(volatile char*)p)); }
inline void clflushopt(const void* p) { asm volatile(".byte 0x66; clflush %0" : "+m"(*(volatile char*)p)); }
inline void clflush(const void* p) { asm volatile("clflush %0" : "+m"(*(volatile char*)p)); }
inline void sfence() { asm volatile("sfence" ::: "memory"); }
#endif

// flushLines -- write back every cache line of the range with instruction m (no fence).
void flushLines(PersistMethod m, uint8_t* addr, size_t len) {
#if defined(__x86_64__)
  uintptr_t p = reinterpret_cast<uintptr_t>(addr) & ~(kLine - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (; p < end; p += kLine) {
    if (m == PersistMethod::Clwb) clwb(reinterpret_cast<void*>(p));
    else if (m == PersistMethod::Clflushopt) clflushopt(reinterpret_cast<void*>(p));
    else clflush(reinterpret_cast<void*>(p));
  }
#else
  (void)m; (void)addr; (void)len;
#endif
}

}  // namespace

// cpuFlushMethod -- CPUID leaf 7: EBX bit 24 = CLWB, bit 23 = CLFLUSHOPT.
PersistMethod cpuFlushMethod() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    if (b & (1u << 24)) return PersistMethod::Clwb;
    if (b & (1u << 23)) return PersistMethod::Clflushopt;
  }
  return PersistMethod::Clflush;
#else
  return PersistMethod::Msync;
#endif
}

const char* persistMethodName(PersistMethod m) {
  switch (m) {
    case PersistMethod::Msync: return "msync";
    case PersistMethod::Clwb: return "clwb";
    case PersistMethod::Clflushopt: return "clflushopt";
    case PersistMethod::Clflush: return "clflush";
    case PersistMethod::Fence: return "fence";
  }
  return "?";
}

// persistRange -- flush + drain of one range.
int persistRange(PersistMethod m, uint8_t* addr, size_t len) {
  if (len == 0) return 0;
  TSMM_LOG(3, "persist %s %p +%zu", persistMethodName(m), (void*)addr, len);
  switch (m) {
    case PersistMethod::Msync: {
      uintptr_t start = reinterpret_cast<uintptr_t>(addr) & ~(kPage - 1);
      uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
      if (sys::msync(reinterpret_cast<void*>(start), end - start, MS_SYNC) != 0) return errno;
      return 0;
    }
    case PersistMethod::Fence:
      std::atomic_thread_fence(std::memory_order_seq_cst);
      return 0;
    default:
#ifdef TSMM_TRACE
      trace::before("flush", -1, addr);  // trace hook (issue 7): a power cut may strike before these lines are flushed
#endif
      flushLines(m, addr, len);
#if defined(__x86_64__)
      sfence();
#endif
#ifdef TSMM_TRACE
      trace::afterPersist(addr, len, 64);  // trace hook (issue 7): these cache lines reached the medium
#endif
      return 0;
  }
}

}  // namespace tsmm
