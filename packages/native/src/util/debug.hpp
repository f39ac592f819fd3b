// debug.hpp -- TSMM_DEBUG=1..3 logging to stderr (1: opens/closes/recoveries, 2: commits, 3: flushes).
#pragma once

namespace tsmm {
extern int g_debug;
// debugLog -- printf-style line to stderr, prefixed "tsmm[pid]:", when g_debug >= level.
void debugLog(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// debugInitFromEnv -- read TSMM_DEBUG once at load.
void debugInitFromEnv();
}  // namespace tsmm

#define TSMM_LOG(level, ...)                              \
  do {                                                    \
    if (::tsmm::g_debug >= (level)) ::tsmm::debugLog((level), __VA_ARGS__); \
  } while (0)
