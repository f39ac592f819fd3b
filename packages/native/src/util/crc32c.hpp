// crc32c.hpp -- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the on-disk format.
// Hardware (SSE4.2 crc32 instruction) when the CPU has it, chosen once; slice-by-8 tables otherwise.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tsmm {
// crc32c -- extend `crc` (0 to start) over `n` bytes. crc32c("123456789") == 0xE3069283.
uint32_t crc32c(uint32_t crc, const void* data, size_t n);
}  // namespace tsmm
