// bounds.c -- the physical limits a durable checkpoint of N bytes is measured against.
//
// For N bytes on the medium of DIR, one run does, in this order and each timed on its own:
//   memcpy        DRAM -> DRAM copy of N bytes (both buffers pre-touched): memory bandwidth
//   mapCopy       copy of N bytes into a MAP_SHARED mapping of a preallocated file (pages clean after the previous
//                 run's msync, so this includes the write-protect faults a re-dirtied mapping takes)
//   msync         msync(MS_SYNC) of exactly those N dirty bytes
//   writeSync     pwrite of N bytes over a preallocated file + fdatasync (page cache path)
//   directSync    the same with O_DIRECT (no page-cache copy), when the filesystem allows it; informational
// The runs are interleaved so that a noisy neighbour hits every method alike.
//
// Build: cc -O2 -o bench/.cache/bounds bench/tools/bounds.c   (bench/lib/bounds.js does this on first use)
// Run:   bench/.cache/bounds DIR BYTES RUNS [WARMUP]   -> one JSON object on stdout, times in milliseconds
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

// now_ms -- monotonic clock in milliseconds
static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// die -- report a failed call as JSON on stdout (so the caller can show it) and exit 1
static void die(const char* what, const char* path) {
  printf("{\"error\":\"%s failed on %s: %s\"}\n", what, path, strerror(errno));
  exit(1);
}

// write_all -- pwrite the whole buffer (write caps one call below 2 GiB)
static void write_all(int fd, const char* buf, size_t n, const char* path) {
  size_t done = 0;
  while (done < n) {
    size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
    ssize_t w = pwrite(fd, buf + done, chunk, (off_t)done);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("pwrite", path);
    }
    done += (size_t)w;
  }
}

// print_runs -- one JSON array of run times
static void print_runs(const char* key, const double* v, int n, int last) {
  printf("\"%s\":[", key);
  for (int i = 0; i < n; i++) printf("%s%.4f", i ? "," : "", v[i]);
  printf("]%s", last ? "" : ",");
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s DIR BYTES RUNS [WARMUP]\n", argv[0]);
    return 2;
  }
  const char* dir = argv[1];
  size_t n = strtoull(argv[2], 0, 10);
  int runs = atoi(argv[3]);
  int warm = argc > 4 ? atoi(argv[4]) : 1;
  if (n == 0 || runs <= 0 || runs > 1000) {
    fprintf(stderr, "bad BYTES or RUNS\n");
    return 2;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t n_al = (n + page - 1) / page * page;

  char mpath[4096], wpath[4096], dpath[4096];
  snprintf(mpath, sizeof mpath, "%s/bounds-map.%d", dir, (int)getpid());
  snprintf(wpath, sizeof wpath, "%s/bounds-write.%d", dir, (int)getpid());
  snprintf(dpath, sizeof dpath, "%s/bounds-direct.%d", dir, (int)getpid());

  char* src = aligned_alloc(page, n_al);
  char* dst = aligned_alloc(page, n_al);
  if (!src || !dst) die("aligned_alloc", "memory");
  memset(src, 0x5a, n_al);
  memset(dst, 0xa5, n_al);

  int mfd = open(mpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (mfd < 0) die("open", mpath);
  if (posix_fallocate(mfd, 0, (off_t)n_al) != 0) die("posix_fallocate", mpath);
  char* map = mmap(0, n_al, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (map == MAP_FAILED) die("mmap", mpath);

  int wfd = open(wpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (wfd < 0) die("open", wpath);
  if (posix_fallocate(wfd, 0, (off_t)n_al) != 0) die("posix_fallocate", wpath);

  int dfd = open(dpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0600);
  int direct_ok = dfd >= 0 && posix_fallocate(dfd, 0, (off_t)n_al) == 0;

  double* t_memcpy = calloc(runs, sizeof(double));
  double* t_mapcopy = calloc(runs, sizeof(double));
  double* t_msync = calloc(runs, sizeof(double));
  double* t_write = calloc(runs, sizeof(double));
  double* t_direct = calloc(runs, sizeof(double));

  for (int r = -warm; r < runs; r++) {
    int i = r < 0 ? 0 : r;
    src[0] = (char)r;  // keep the copies from being elided
    double t0 = now_ms();
    memcpy(dst, src, n);
    double t1 = now_ms();
    if (r >= 0) t_memcpy[i] = t1 - t0;

    t0 = now_ms();
    memcpy(map, src, n);
    t1 = now_ms();
    if (msync(map, n_al, MS_SYNC) != 0) die("msync", mpath);
    double t2 = now_ms();
    if (r >= 0) {
      t_mapcopy[i] = t1 - t0;
      t_msync[i] = t2 - t1;
    }

    t0 = now_ms();
    write_all(wfd, src, n, wpath);
    if (fdatasync(wfd) != 0) die("fdatasync", wpath);
    t1 = now_ms();
    if (r >= 0) t_write[i] = t1 - t0;

    if (direct_ok) {
      t0 = now_ms();
      size_t done = 0;
      while (done < n_al) {
        size_t chunk = n_al - done > (1u << 30) ? (1u << 30) : n_al - done;
        ssize_t w = pwrite(dfd, src + done, chunk, (off_t)done);
        if (w <= 0) { direct_ok = 0; break; }
        done += (size_t)w;
      }
      if (direct_ok && fdatasync(dfd) != 0) direct_ok = 0;
      t1 = now_ms();
      if (r >= 0) t_direct[i] = t1 - t0;
    }
  }

  printf("{\"bytes\":%zu,\"dir\":\"%s\",\"runs\":%d,\"warmup\":%d,", n, dir, runs, warm);
  print_runs("memcpy", t_memcpy, runs, 0);
  print_runs("mapCopy", t_mapcopy, runs, 0);
  print_runs("msync", t_msync, runs, 0);
  print_runs("writeSync", t_write, runs, !direct_ok);
  if (direct_ok) print_runs("directSync", t_direct, runs, 1);
  printf("}\n");

  munmap(map, n_al);
  close(mfd);
  close(wfd);
  if (dfd >= 0) close(dfd);
  unlink(mpath);
  unlink(wpath);
  unlink(dpath);
  return 0;
}
