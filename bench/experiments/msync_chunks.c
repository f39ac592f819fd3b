// msync_chunks.c -- is one msync of N dirty bytes slower than several smaller ones? (perf-findings PF-2: no.)
// Build and run: cc -O2 -o /tmp/mc bench/experiments/msync_chunks.c && /tmp/mc /tmp/mc.dat 256
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
int main(int c,char**v){size_t n=(size_t)atoi(v[2])<<20; int fd=open(v[1],O_RDWR|O_CREAT|O_TRUNC,0600); posix_fallocate(fd,0,n);
char*m=mmap(0,n,PROT_READ|PROT_WRITE,MAP_SHARED,fd,0); char*src=malloc(n); memset(src,7,n);
size_t chunks[]={n, 64<<20, 16<<20, 4<<20};
for(int rep=0;rep<3;rep++) for(int k=0;k<4;k++){ size_t ch=chunks[k]; src[0]=rep+k; memcpy(m,src,n); double t0=now(); for(size_t at=0;at<n;at+=ch) msync(m+at, ch<n-at?ch:n-at, MS_SYNC); double t1=now(); if(rep) printf("chunk %4zu MiB: msync %.1f ms\n", ch>>20, t1-t0);}
unlink(v[1]);}
