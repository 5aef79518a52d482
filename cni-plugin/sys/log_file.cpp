// Appends one line to a log file. Touches files.
#include "cni-plugin/sys/log_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ambient::cni {

Status appendLine(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail(ErrorCode::kIo, "open log file " + path, errno);
  std::string out = line + "\n";
  ssize_t n = ::write(fd, out.data(), out.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(out.size()))
    return fail(ErrorCode::kIo, "append to log file " + path, n < 0 ? err : 0);
  return {};
}

}  // namespace ambient::cni
