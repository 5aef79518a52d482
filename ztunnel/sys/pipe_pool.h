// Per-worker pool of pipes for splice(2): a connection borrows a pipe only while bytes are in
// flight, so idle connections hold none. Touches the kernel.
#pragma once

#include <vector>

#include "ztunnel/core/error.h"

namespace zt {

struct Pipe {
  int readFd = -1;
  int writeFd = -1;
  explicit operator bool() const { return readFd >= 0; }
};

class PipePool {
 public:
  static constexpr int kPipeBytes = 512 * 1024;
  ~PipePool();
  Result<Pipe> acquire();
  void release(Pipe& pipe);  // must be empty; resets `pipe`
  void destroy(Pipe& pipe);  // for pipes that may hold bytes

 private:
  std::vector<Pipe> free_;
};

}  // namespace zt
