// persist.hpp -- making stores durable. Three verbs, used the same way everywhere (as in libpmem2):
//   flush   -- start writing a range back (cache-line write-back on DAX; nothing on other media);
//   drain   -- wait until everything flushed is durable (sfence on DAX);
//   persist -- flush + drain of one range: msync(MS_SYNC) of the covering pages on an ordinary
//              file mapping, cache-line flushes + one sfence on a DAX (MAP_SYNC / device-DAX)
//              mapping, a fence only on tmpfs (the medium is DRAM: nothing further to reach).
// The persist method is chosen once per mapping from what the medium is.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tsmm {

enum class PersistMethod { Msync, Clwb, Clflushopt, Clflush, Fence };

// cpuFlushMethod -- best cache-line flush instruction of this CPU (clwb > clflushopt > clflush).
PersistMethod cpuFlushMethod();
const char* persistMethodName(PersistMethod m);

// persistRange -- make [addr, addr+len) durable with method m; returns 0 or an errno (msync only).
int persistRange(PersistMethod m, uint8_t* addr, size_t len);

}  // namespace tsmm
