#include "util/crc32c.hpp"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace tsmm {
namespace {

uint32_t g_table[8][256];

// buildTables -- slice-by-8 tables for the software path.
bool buildTables() {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    g_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++) {
    for (int t = 1; t < 8; t++) g_table[t][i] = (g_table[t - 1][i] >> 8) ^ g_table[0][g_table[t - 1][i] & 0xff];
  }
  return true;
}

// softCrc -- slice-by-8 CRC32C over raw (already inverted) state.
uint32_t softCrc(uint32_t c, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    v ^= c;
    c = g_table[7][v & 0xff] ^ g_table[6][(v >> 8) & 0xff] ^ g_table[5][(v >> 16) & 0xff] ^
        g_table[4][(v >> 24) & 0xff] ^ g_table[3][(v >> 32) & 0xff] ^ g_table[2][(v >> 40) & 0xff] ^
        g_table[1][(v >> 48) & 0xff] ^ g_table[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ g_table[0][(c ^ *p++) & 0xff];
  return c;
}

#if defined(__x86_64__)
// hwCrc -- SSE4.2 crc32 instruction, 8 bytes at a time.
__attribute__((target("sse4.2"))) uint32_t hwCrc(uint32_t c, const uint8_t* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c64;
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}

bool hasSse42() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & bit_SSE4_2) != 0;
}
#endif

using CrcFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

// chooseCrc -- pick the implementation once.
CrcFn chooseCrc() {
  buildTables();
#if defined(__x86_64__)
  if (hasSse42()) return hwCrc;
#endif
  return softCrc;
}

const CrcFn g_crc = chooseCrc();

}  // namespace

// crc32c -- public entry: standard pre/post inversion.
uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
  return ~g_crc(~crc, static_cast<const uint8_t*>(data), n);
}

}  // namespace tsmm
