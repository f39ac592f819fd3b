// msync_threads.c -- does splitting one large msync(MS_SYNC) over threads help on this machine?
// Build and run: gcc -O2 -o /tmp/ms bench/tools/msync_threads.c -lpthread && /tmp/ms 64 && /tmp/ms 256
#include <sys/mman.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
static char* base; static size_t len;
typedef struct { size_t off, n; } R;
static void* w(void* a) { R* r = a; msync(base + r->off, r->n, MS_SYNC); return 0; }
static double now() { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(int argc, char** argv) {
  len = (size_t)atoi(argv[1]) << 20; int fd = open("/tmp/msbench.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
  posix_fallocate(fd, 0, len); base = mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  for (int T = 1; T <= 4; T *= 2) { double best[7]; for (int r = 0; r < 7; r++) { memset(base, r + T, len); double t0 = now();
      pthread_t th[4]; R rs[4]; for (int i = 0; i < T; i++) { rs[i].off = len / T * i; rs[i].n = len / T; pthread_create(&th[i], 0, w, &rs[i]); }
      for (int i = 0; i < T; i++) pthread_join(th[i], 0); best[r] = now() - t0; }
    double s=0; for(int r=0;r<7;r++) s+=best[r]; printf("%zu MiB threads=%d mean %.1f ms\n", len >> 20, T, s/7); }
  unlink("/tmp/msbench.dat"); }
