// Pipe pool. Touches the kernel (pipe2, F_SETPIPE_SZ).
#include "ztunnel/sys/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace zt {

namespace {
constexpr size_t kMaxFree = 256;
}

Result<Pipe> PipePool::acquire() {
  if (!free_.empty()) {
    Pipe p = std::move(free_.back());
    free_.pop_back();
    return p;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
    return fail(ErrorCode::kIo, "pipe2 for splice", errno);
  // A larger pipe moves more per splice; pages are only used while bytes are in flight.
  Pipe p{ambient::UniqueFd(fds[0]), ambient::UniqueFd(fds[1])};
  fcntl(p.writeFd.get(), F_SETPIPE_SZ, kPipeBytes);
  return p;
}

void PipePool::release(Pipe& pipe) {
  if (!pipe) return;
  if (free_.size() < kMaxFree)
    free_.push_back(std::move(pipe));
  else
    destroy(pipe);
  pipe = Pipe{};
}

void PipePool::destroy(Pipe& pipe) {
  pipe = Pipe{};  // closes both ends
}

}  // namespace zt
