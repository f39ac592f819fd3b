// trace.cpp -- the power-cut simulator (see trace.hpp). Compiled only into the tsmm_trace target.
#include "trace.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace tsmm {
namespace trace {
namespace {

struct Key {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator<(const Key& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
  bool operator==(const Key& o) const { return dev == o.dev && ino == o.ino; }
  bool operator!=(const Key& o) const { return !(*this == o); }
};

struct FileState {
  int rfd = -1;                  // our own read-only descriptor: the live content (page cache), even after unlink
  std::vector<uint8_t> durable;  // what the medium holds (bytes past durableSize are irrelevant)
  uint64_t durableSize = 0;
};

struct Mapping {
  uintptr_t addr;
  size_t len;
  Key key;
  off_t off;
};

struct State {
  bool ready = false, active = false;
  std::string dir, poolDir;
  std::vector<std::string> tracked;  // absolute paths whose files we follow
  std::vector<std::string> images;   // absolute paths that make up a pool image
  std::map<Key, FileState> files;
  std::map<std::string, Key> liveNames, durableNames;
  std::vector<Mapping> maps;
  double prob = 1;
  long variants = 1, max = -1;
  uint64_t event = 0, made = 0;
  std::mt19937_64 rng;
  int journal = -1;
};

std::mutex g_mu;
State g;

std::string envOr(const char* k, const char* d) {
  const char* v = getenv(k);
  return v && *v ? std::string(v) : std::string(d);
}

std::string baseName(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dirName(const std::string& p) {
  size_t s = p.rfind('/');
  if (s == std::string::npos) return ".";
  return s == 0 ? "/" : p.substr(0, s);
}

// die -- the simulator cannot do its job: say so loudly rather than produce images that prove nothing.
[[noreturn]] void die(const std::string& what) {
  fprintf(stderr, "tsmm trace: %s: %s\n", what.c_str(), strerror(errno));
  abort();
}

// readAll -- the live content of a file through our descriptor.
std::vector<uint8_t> readAll(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  std::vector<uint8_t> b((size_t)st.st_size);
  size_t done = 0;
  while (done < b.size()) {
    ssize_t r = pread(fd, b.data() + done, b.size() - done, (off_t)done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += (size_t)r;
  }
  b.resize(done);
  return b;
}

std::string fdPath(int fd) {
  char link[64], buf[PATH_MAX + 1];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, PATH_MAX);
  if (n <= 0) return std::string();
  std::string p(buf, (size_t)n);
  const std::string del = " (deleted)";
  if (p.size() > del.size() && p.compare(p.size() - del.size(), del.size(), del) == 0) p.resize(p.size() - del.size());
  return p;
}

bool isTracked(const std::string& p) {
  for (const auto& t : g.tracked) if (t == p) return true;
  return false;
}

// registerFd -- start following the file open at fd (its current content counts as durable: first sight).
FileState* registerFd(int fd, const Key& k, const std::string& path, bool durableName) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  FileState f;
  f.rfd = ::open(link, O_RDONLY | O_CLOEXEC);
  if (f.rfd < 0) die("reopen " + path);
  f.durable = readAll(f.rfd);
  f.durableSize = f.durable.size();
  FileState& slot = g.files[k] = std::move(f);
  g.liveNames[path] = k;
  if (durableName) g.durableNames[path] = k;
  return &slot;
}

// fileOf -- the tracked file open at fd, registering it at first sight; nullptr for anything else.
FileState* fileOf(int fd, Key* key = nullptr) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  Key k{st.st_dev, st.st_ino};
  if (key) *key = k;
  auto it = g.files.find(k);
  if (it != g.files.end()) return &it->second;
  std::string p = fdPath(fd);
  if (!isTracked(p)) return nullptr;
  return registerFd(fd, k, p, false);  // a file created after the trace started: its name is not durable yet
}

// init -- read the configuration and take the pool's files as they are now as the durable state.
void init() {
  g.ready = true;
  g.dir = envOr("TSMM_TRACE_DIR", "");
  if (g.dir.empty()) return;
  std::string pool = envOr("TSMM_TRACE_POOL", "");
  if (pool.empty()) die("TSMM_TRACE_DIR is set but TSMM_TRACE_POOL is not");
  char real[PATH_MAX + 1];
  if (!realpath(dirName(pool).c_str(), real)) die("realpath " + dirName(pool));
  g.poolDir = real;
  std::string base = g.poolDir + "/" + baseName(pool);
  if (envOr("TSMM_TRACE_LAYOUT", "pair") == "single") {
    g.tracked = {base};
    g.images = {base};
  } else {
    g.tracked = {base + ".data", base + ".map", base + ".map.compact"};
    g.images = {base + ".data", base + ".map"};
  }
  g.prob = atof(envOr("TSMM_TRACE_PROB", "1").c_str());
  g.variants = atol(envOr("TSMM_TRACE_VARIANTS", "1").c_str());
  g.max = atol(envOr("TSMM_TRACE_MAX", "-1").c_str());
  g.rng.seed(strtoull(envOr("TSMM_TRACE_SEED", "1").c_str(), nullptr, 10));
  std::string journal = envOr("TSMM_TRACE_JOURNAL", (g.dir + "/journal").c_str());
  g.journal = ::open(journal.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (g.journal < 0) die("open " + journal);
  for (const auto& p : g.tracked) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) registerFd(fd, Key{st.st_dev, st.st_ino}, p, true);
    ::close(fd);
  }
  g.active = true;
}

bool ready() {
  if (!g.ready) init();
  return g.active;
}

double uniform() { return (double)(g.rng() >> 11) * (1.0 / 9007199254740992.0); }

// imageOf -- what a power cut leaves of one file: durable bytes, plus each differing unit of the live file with
// probability pct/100, at the durable or the live size.
std::vector<uint8_t> imageOf(FileState& f, size_t unit, int pct, bool* torn) {
  std::vector<uint8_t> live = readAll(f.rfd);
  uint64_t size = f.durableSize;
  if (live.size() != f.durableSize && (g.rng() & 1)) size = live.size();
  std::vector<uint8_t> img((size_t)size, 0);
  memcpy(img.data(), f.durable.data(), (size_t)std::min<uint64_t>(size, std::min<uint64_t>(f.durableSize, f.durable.size())));
  for (size_t u = 0; u < img.size(); u += unit) {
    size_t end = std::min(img.size(), u + unit);
    bool differs = false;
    for (size_t i = u; i < end && !differs; i++) differs = img[i] != (i < live.size() ? live[i] : 0);
    if (!differs) continue;
    if ((int)(g.rng() % 100) < pct) {
      for (size_t i = u; i < end; i++) img[i] = i < live.size() ? live[i] : 0;
    } else {
      *torn = true;
    }
  }
  return img;
}

void writeFile(const std::string& path, const std::vector<uint8_t>& b) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) die("create " + path);
  size_t done = 0;
  while (done < b.size()) {
    ssize_t w = ::write(fd, b.data() + done, b.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write " + path);
    done += (size_t)w;
  }
  ::close(fd);
}

// cut -- write one power-cut image of the pool into DIR/cut-NNNNNN/ and journal it.
void cut(const char* call) {
  static const size_t kUnits[] = {8, 64, 512, 4096};
  size_t unit = kUnits[g.rng() % 4];
  int pct;
  switch (g.rng() % 4) {
    case 0: pct = 0; break;
    case 1: pct = 100; break;
    case 2: pct = 50; break;
    default: pct = (int)(1 + g.rng() % 99);
  }
  char sub[32];
  snprintf(sub, sizeof sub, "cut-%06llu", (unsigned long long)g.made);
  std::string out = g.dir + "/" + sub;
  if (mkdir(out.c_str(), 0700) != 0) die("mkdir " + out);
  std::string sizes, names;
  for (const auto& p : g.images) {
    auto d = g.durableNames.find(p);
    auto l = g.liveNames.find(p);
    if (d == g.durableNames.end()) {  // the name was never made durable: no such file after the cut
      sizes += " -";
      continue;
    }
    Key k = d->second;
    bool pending = l != g.liveNames.end() && l->second != d->second;
    if (pending && (g.rng() & 1)) k = l->second;  // the rename may or may not have reached the disk
    names += pending ? (k == d->second ? "old" : "new") : "";
    bool torn = false;
    std::vector<uint8_t> img = imageOf(g.files[k], unit, pct, &torn);
    writeFile(out + "/" + baseName(p), img);
    sizes += " " + std::to_string(img.size()) + (torn ? "t" : "");
  }
  char line[512];
  int n = snprintf(line, sizeof line, "C %llu %llu %s %zu %d%s %s\n", (unsigned long long)g.made, (unsigned long long)g.event,
                   call, unit, pct, sizes.c_str(), names.empty() ? "-" : names.c_str());
  if (::write(g.journal, line, (size_t)n) != n) die("journal");
  g.made++;
}

Mapping* mappingAt(uintptr_t a) {
  for (auto it = g.maps.rbegin(); it != g.maps.rend(); ++it) {
    if (a >= it->addr && a < it->addr + it->len) return &*it;
  }
  return nullptr;
}

}  // namespace

// before -- see header.
void before(const char* call, int fd, const void* addr) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!ready()) return;
  if (fd >= 0) fileOf(fd);  // first sight of a file must see it before this call changes it
  g.event++;
  if (g.max >= 0 && (long)g.made >= g.max) return;
  if (uniform() >= g.prob) return;
  for (long v = 0; v < g.variants; v++) cut(call);
}

// afterSync -- see header.
void afterSync(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!ready()) return;
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (fdPath(fd) == g.poolDir) g.durableNames = g.liveNames;
    return;
  }
  FileState* f = fileOf(fd);
  if (!f) return;
  f->durable = readAll(f->rfd);
  f->durableSize = f->durable.size();
}

// afterPersist -- see header.
void afterPersist(const void* addr, size_t len, size_t granule) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!ready() || len == 0) return;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr) & ~(uintptr_t)(granule - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(addr) + len + granule - 1) & ~(uintptr_t)(granule - 1);
  while (a < end) {
    Mapping* m = mappingAt(a);
    if (!m) return;  // a private (reader) mapping or one we do not follow
    uintptr_t stop = std::min<uintptr_t>(end, m->addr + m->len);
    auto it = g.files.find(m->key);
    if (it != g.files.end()) {
      FileState& f = it->second;
      uint64_t fo = (uint64_t)m->off + (a - m->addr);
      size_t n = stop - a;
      if (f.durable.size() < fo + n) f.durable.resize(fo + n, 0);
      size_t done = 0;
      while (done < n) {
        ssize_t r = pread(f.rfd, f.durable.data() + fo + done, n - done, (off_t)(fo + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;  // past the end of the file
        done += (size_t)r;
      }
    }
    a = stop;
  }
}

// afterMmap -- see header.
void afterMmap(void* addr, size_t len, int flags, int fd, off_t off) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!ready() || !(flags & MAP_SHARED)) return;  // MAP_SHARED and MAP_SHARED_VALIDATE both have bit 0 set
  Key k;
  if (!fileOf(fd, &k)) return;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  g.maps.push_back(Mapping{a, len, k, off});
}

// afterRename -- see header.
void afterRename(const char* from, const char* to) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!ready()) return;
  std::string f = from, t = to;
  char real[PATH_MAX + 1];
  if (realpath(dirName(t).c_str(), real)) t = std::string(real) + "/" + baseName(t);
  if (realpath(dirName(f).c_str(), real)) f = std::string(real) + "/" + baseName(f);
  auto it = g.liveNames.find(f);
  if (it == g.liveNames.end()) {
    struct stat st;
    if (!isTracked(t) || stat(t.c_str(), &st) != 0) return;
    int fd = ::open(t.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    registerFd(fd, Key{st.st_dev, st.st_ino}, t, false);
    ::close(fd);
    return;
  }
  Key k = it->second;
  g.liveNames.erase(it);
  g.liveNames[t] = k;
}

}  // namespace trace
}  // namespace tsmm
