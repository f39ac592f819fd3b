// errors.hpp -- the engine's one failure type and the helpers that raise it.
//
// Every failure inside the engine is a C++ `ShelfErr` carrying a stable string code
// (ESHELF_*), a message that names the pool, path or entry, and, when the operating
// system refused something, the errno name, the syscall and the path. The N-API layer
// (objects/pool_object.cpp) turns it into a JS `ShelfError`; nothing below that layer
// knows about JavaScript.
#pragma once
#include <cerrno>
#include <stdexcept>
#include <string>

namespace tsmm {

struct ShelfErr : std::exception {
  std::string code;     // ESHELF_*
  std::string message;  // human text naming the pool/path/entry
  std::string errnoName;  // "ENOSPC" etc., empty when not an OS failure
  std::string syscall;
  std::string path;
  bool rangeError = false;  // misuse: surfaces as RangeError instead of ShelfError
  bool typeError = false;   // misuse: surfaces as TypeError
  ShelfErr(std::string c, std::string m) : code(std::move(c)), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
};

// errnoName -- "ENOSPC" for ENOSPC, "E<number>" for anything unknown.
const char* errnoName(int err);

// fail -- raise ShelfErr(code, msg).
[[noreturn]] void fail(const std::string& code, const std::string& msg);

// failOs -- raise the ShelfErr for an OS failure of `syscall` on `path` with `err`.
// ENOSPC/EDQUOT map to ESHELF_FULL, EWOULDBLOCK from flock to ESHELF_LOCKED (caller decides),
// ENOENT to ESHELF_NOT_FOUND, ELOOP (O_NOFOLLOW on a symlink) to ESHELF_NAME, the rest to ESHELF_IO.
[[noreturn]] void failOs(int err, const std::string& syscall, const std::string& path, const std::string& what);

// failRange / failType -- misuse of an argument (RangeError / TypeError in JS).
[[noreturn]] void failRange(const std::string& msg);
[[noreturn]] void failType(const std::string& msg);

}  // namespace tsmm
