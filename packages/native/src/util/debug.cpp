#include "util/debug.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace tsmm {
int g_debug = 0;

// debugLog -- one line to stderr.
void debugLog(int level, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "tsmm[%d]:%d: %s\n", (int)getpid(), level, buf);
}

// debugInitFromEnv -- TSMM_DEBUG=0..3.
void debugInitFromEnv() {
  const char* v = getenv("TSMM_DEBUG");
  if (v && *v) {
    int l = atoi(v);
    g_debug = l < 0 ? 0 : (l > 3 ? 3 : l);
  }
}
}  // namespace tsmm
