// Atomic whole-file writes. Touches files.
#include "common/sys/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/sys/unique_fd.h"

namespace ambient {

Status writeAllTo(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      return fail(ErrorCode::kIo, "write " + path + (e == ENOSPC ? " (disk full)" : ""), e);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Status replaceFileAtomic(const std::string& path, mode_t mode,
                         const std::function<Status(int fd, const std::string& tmpPath)>& fill) {
  // A unique temp name next to `path`: never a config suffix a reader would pick up.
  std::string tmp = path + ".tmp-XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return fail(ErrorCode::kIo, "create a temp file for " + path, errno);
  auto abandon = [&](Error e) {
    ::unlink(tmp.c_str());
    return fail(std::move(e));
  };
  if (auto s = fill(fd.get(), tmp); !s) return abandon(s.error());
  if (::fchmod(fd.get(), mode) != 0) return abandon(Error{ErrorCode::kIo, errno, "chmod " + tmp});
  if (::fsync(fd.get()) != 0) return abandon(Error{ErrorCode::kIo, errno, "fsync " + tmp});
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return abandon(Error{ErrorCode::kIo, errno, "rename " + tmp + " to " + path});
  }
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid() || ::fsync(dfd.get()) != 0) {
    return fail(ErrorCode::kIo, "fsync directory " + dir + " after replacing " + path, errno);
  }
  return {};
}

Status writeFileAtomic(const std::string& path, const std::string& content, mode_t mode) {
  return replaceFileAtomic(path, mode, [&](int fd, const std::string& tmp) {
    return writeAllTo(fd, content.data(), content.size(), tmp);
  });
}

}  // namespace ambient
