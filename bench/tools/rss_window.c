// rss_window.c -- does a process that streams through a large MAP_SHARED file mapping keep its RSS bounded if it drops
// the pages it is done with? (Evidence for P7: a shelf larger than RAM, filled and summed window by window.)
//
// Fills GIB GiB of a preallocated file through one mapping in 256 MiB slices (memset), then sums it back slice by
// slice, in one of three modes applied to each slice once it is done:
//   none      nothing (what tsmm does today): every touched page stays mapped and counts in RssFile until reclaim
//   dontneed  madvise(MADV_DONTNEED): unmaps the slice's pages; dirty data stays in the page cache, is written back
//             as usual (shared file mapping: nothing is lost), and RSS drops at once
//   pageout   madvise(MADV_PAGEOUT) (Linux >= 5.4): also asks the kernel to write back and reclaim them now
// Prints peak VmHWM / RssFile and the time of each phase as JSON.
// Build and run: cc -O2 -o /tmp/rw bench/tools/rss_window.c && /tmp/rw DIR 4 none && /tmp/rw DIR 4 dontneed
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

// now_ms -- monotonic clock in milliseconds
static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// status_kb -- a field of /proc/self/status in kB
static long status_kb(const char* key) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, key, n) == 0 && line[n] == ':') { v = atol(line + n + 1); break; }
  }
  if (f) fclose(f);
  return v;
}

int main(int argc, char** argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s DIR GIB none|dontneed|pageout\n", argv[0]); return 2; }
  size_t len = (size_t)atof(argv[2]) * (1ull << 30);
  const char* mode = argv[3];
  int advice = strcmp(mode, "dontneed") == 0 ? MADV_DONTNEED : strcmp(mode, "pageout") == 0 ? MADV_PAGEOUT : -1;
  char path[4096];
  snprintf(path, sizeof path, "%s/rss-window.%d", argv[1], (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || posix_fallocate(fd, 0, (off_t)len) != 0) { perror("open/fallocate"); return 1; }
  char* m = mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  const size_t slice = 256u << 20;
  long peakFile = 0;
  double t0 = now_ms();
  for (size_t at = 0; at < len; at += slice) {
    size_t n = len - at < slice ? len - at : slice;
    memset(m + at, 1, n);
    long f = status_kb("RssFile");
    if (f > peakFile) peakFile = f;
    if (advice >= 0) madvise(m + at, n, advice);
  }
  double t1 = now_ms();
  msync(m, len, MS_SYNC);
  double t2 = now_ms();
  unsigned long long sum = 0;
  for (size_t at = 0; at < len; at += slice) {
    size_t n = len - at < slice ? len - at : slice;
    for (size_t i = 0; i < n; i += 8) sum += (unsigned char)m[at + i];
    long f = status_kb("RssFile");
    if (f > peakFile) peakFile = f;
    if (advice >= 0) madvise(m + at, n, advice);
  }
  double t3 = now_ms();
  printf("{\"mode\":\"%s\",\"gib\":%.2f,\"fillMs\":%.0f,\"msyncMs\":%.0f,\"sumMs\":%.0f,\"peakRssFileMiB\":%ld,\"vmHWMMiB\":%ld,\"sumOk\":%s}\n",
         mode, len / 1073741824.0, t1 - t0, t2 - t1, t3 - t2, peakFile / 1024, status_kb("VmHWM") / 1024, sum == len / 8 ? "true" : "false");
  munmap(m, len);
  close(fd);
  unlink(path);
  return 0;
}
