// Network namespaces as owned fds, with a scoped per-thread switch. Touches the kernel.
#include "common/sys/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ambient {

Result<Netns> Netns::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return fail(e == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                "network namespace " + path + " cannot be opened (does the pod still exist?)", e);
  }
  UniqueFd owned(fd);
  struct statfs fs {};
  if (fstatfs(fd, &fs) == 0 && fs.f_type != NSFS_MAGIC && fs.f_type != PROC_SUPER_MAGIC) {
    return fail(ErrorCode::kInvalidInput,
                path +
                    " is not a network namespace (not an nsfs mount; was it created in "
                    "another mount namespace?)");
  }
  return Netns(path, std::move(owned));
}

Status Netns::run(const std::function<Status()>& fn) const {
  UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self.valid()) {
    return fail(ErrorCode::kIo, "cannot open this thread's network namespace", errno);
  }
  struct stat a {
  }, b{};
  if (fstat(self.get(), &a) == 0 && fstat(fd(), &b) == 0 && a.st_ino == b.st_ino &&
      a.st_dev == b.st_dev) {
    return fn();  // already there
  }
  if (setns(fd(), CLONE_NEWNET) != 0) {
    return fail(ErrorCode::kKernel, "cannot enter network namespace " + path_, errno);
  }
  Status result = fn();
  if (setns(self.get(), CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "fatal: cannot return from network namespace %s: %s\n", path_.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  return result;
}

}  // namespace ambient
