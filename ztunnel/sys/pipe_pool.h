// Per-worker pool of pipes for splice(2): a connection borrows a pipe only while bytes are in
// flight, so idle connections hold none. Touches the kernel.
#pragma once

#include <vector>

#include "common/sys/unique_fd.h"
#include "ztunnel/core/error.h"

namespace zt {

// Both ends of one pipe; move-only, closed when dropped.
struct Pipe {
  ambient::UniqueFd readFd;
  ambient::UniqueFd writeFd;
  explicit operator bool() const { return readFd.valid(); }
};

class PipePool {
 public:
  static constexpr int kPipeBytes = 512 * 1024;
  Result<Pipe> acquire();
  void release(Pipe& pipe);  // must be empty; resets `pipe`
  void destroy(Pipe& pipe);  // for pipes that may hold bytes

 private:
  std::vector<Pipe> free_;
};

}  // namespace zt
