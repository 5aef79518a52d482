// Network namespaces as owned file descriptors, and a short scoped switch of the calling
// thread into one (to open a socket or a /proc/sys file there). Touches the kernel.
#pragma once

#include <functional>
#include <string>

#include "common/core/error.h"
#include "common/sys/unique_fd.h"

namespace ambient {

class Netns {
 public:
  // Opens the namespace file (a bind mount under /var/run/netns or /proc/<pid>/ns/net).
  static Result<Netns> open(const std::string& path);
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  // Runs `fn` on this thread inside the namespace, then switches back. A failed switch back
  // aborts the process: a thread stranded in a pod's namespace would corrupt later work.
  Status run(const std::function<Status()>& fn) const;

 private:
  Netns(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace ambient
