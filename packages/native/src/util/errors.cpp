#include "util/errors.hpp"

#include <cstring>

namespace tsmm {

// errnoName -- symbolic name of an errno value, as Node reports them.
const char* errnoName(int err) {
  switch (err) {
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EIO: return "EIO";
    case ENOMEM: return "ENOMEM";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case EWOULDBLOCK: return "EWOULDBLOCK";
    case EBADF: return "EBADF";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case EFBIG: return "EFBIG";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENODEV: return "ENODEV";
    case EXDEV: return "EXDEV";
    case EBUSY: return "EBUSY";
    case EINTR: return "EINTR";
    default: {
      static thread_local char buf[16];
      snprintf(buf, sizeof buf, "E%d", err);
      return buf;
    }
  }
}

// fail -- raise a ShelfErr.
void fail(const std::string& code, const std::string& msg) { throw ShelfErr(code, msg); }

// failOs -- raise the ShelfErr describing an OS failure.
void failOs(int err, const std::string& syscall, const std::string& path, const std::string& what) {
  std::string code = "ESHELF_IO";
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) code = "ESHELF_FULL";
  else if (err == ENOENT) code = "ESHELF_NOT_FOUND";
  else if (err == ELOOP) code = "ESHELF_NAME";
  else if (err == EROFS) code = "ESHELF_READONLY";
  ShelfErr e(code, what + ": " + syscall + " " + path + ": " + strerror(err) + " (" + errnoName(err) + ")");
  e.errnoName = errnoName(err);
  e.syscall = syscall;
  e.path = path;
  throw e;
}

void failRange(const std::string& msg) {
  ShelfErr e("ERR_OUT_OF_RANGE", msg);
  e.rangeError = true;
  throw e;
}

void failType(const std::string& msg) {
  ShelfErr e("ERR_INVALID_ARG_TYPE", msg);
  e.typeError = true;
  throw e;
}

}  // namespace tsmm
