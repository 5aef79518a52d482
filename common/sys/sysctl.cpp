// /proc/sys reads and writes inside a network namespace. Touches the kernel.
#include "common/sys/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ambient {
namespace {

Status checkKey(const std::string& key) {
  if (key.empty() || key.find("..") != std::string::npos || key.front() == '/') {
    return fail(ErrorCode::kInvalidInput, "sysctl key \"" + key + "\" is not a /proc/sys path");
  }
  return {};
}

}  // namespace

Result<std::string> readSysctl(const Netns& ns, const std::string& key) {
  if (auto s = checkKey(key); !s) return fail(s.error());
  std::string value;
  auto st = ns.run([&]() -> Status {
    UniqueFd fd(::open(("/proc/sys/" + key).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return fail(kernelError(errno, "read sysctl " + key));
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) return fail(kernelError(errno, "read sysctl " + key));
    value.assign(buf, static_cast<size_t>(n));
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    return {};
  });
  if (!st) return fail(st.error());
  return value;
}

Status writeSysctl(const Netns& ns, const std::string& key, const std::string& value) {
  if (auto s = checkKey(key); !s) return s;
  return ns.run([&]() -> Status {
    UniqueFd fd(::open(("/proc/sys/" + key).c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return fail(kernelError(errno, "write sysctl " + key));
    if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
      return fail(kernelError(errno, "write sysctl " + key + "=" + value));
    }
    return {};
  });
}

}  // namespace ambient
