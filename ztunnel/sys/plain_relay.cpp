// splice(2) relay. Touches the kernel.
#include "ztunnel/sys/plain_relay.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "ztunnel/sys/log.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

namespace {
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
}

void PlainRelay::start(WorkerContext& ctx, int down, int up,
                       std::shared_ptr<TrafficCounters> counters, const char* listener) {
  // Owned by the loop from here on: finish() hands it to EventLoop::retire().
  auto* r = new PlainRelay(ctx, down, up, std::move(counters), listener);
  if (!ctx.loop.add(down, kEvents, &r->downWatch_) || !ctx.loop.add(up, kEvents, &r->upWatch_)) {
    r->finish(true);
    return;
  }
  r->timer_ = ctx.loop.addTimer(std::chrono::milliseconds(ctx.state.opts.connectTimeoutMs), [r] {
    r->timer_ = 0;
    if (r->connecting_) {
      r->ctx_.state.metrics.countRejected(r->listener_, "upstream_connect_timeout");
      r->finish(true);
    }
  });
}

PlainRelay::PlainRelay(WorkerContext& ctx, int down, int up,
                       std::shared_ptr<TrafficCounters> counters, const char* listener)
    : ctx_(ctx), active_(ctx), down_(down), up_(up), downWatch_{this, 0}, upWatch_{this, 1},
      listener_(listener), counters_(std::move(counters)) {
  counters_->opened.fetch_add(1, std::memory_order_relaxed);
}

PlainRelay::~PlainRelay() = default;

void PlainRelay::onEvents(int tag, uint32_t events) {
  if (closed_) return;
  if (connecting_) {
    if (tag != 1) return;  // client bytes wait until upstream is connected
    int err = socketError(up_);
    if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
      connecting_ = false;
      if (timer_) ctx_.loop.cancelTimer(timer_);
      timer_ = 0;
    } else if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      logLine(LogLevel::kDebug, "upstream connect failed", {{"listener", listener_}, {"errno", std::to_string(err)}});
      ctx_.state.metrics.countRejected(listener_, "upstream_connect_failed");
      finish(true);
      return;
    }
  }
  if (!pump(down_, up_, toUp_, counters_->receivedBytes) ||
      !pump(up_, down_, toDown_, counters_->sentBytes)) {
    finish(true);
    return;
  }
  if (toUp_.shut && toDown_.shut) finish(false);
}

bool PlainRelay::pump(int src, int dst, Direction& d, std::atomic<uint64_t>& counter) {
  for (;;) {
    if (d.inPipe > 0) {
      ssize_t n = splice(d.pipe.readFd, nullptr, dst, nullptr, d.inPipe,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) return errno == EAGAIN;
      d.inPipe -= static_cast<uint32_t>(n);
      counter.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      continue;
    }
    if (d.eof) {
      if (!d.shut) {
        ::shutdown(dst, SHUT_WR);
        d.shut = true;
      }
      ctx_.pipes.release(d.pipe);
      return true;
    }
    if (!d.pipe) {
      auto p = ctx_.pipes.acquire();
      if (!p) return false;
      d.pipe = *p;
    }
    ssize_t n = splice(src, nullptr, d.pipe.writeFd, nullptr, PipePool::kPipeBytes,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) {
      d.eof = true;
      continue;
    }
    if (n < 0) {
      if (errno != EAGAIN) return false;
      ctx_.pipes.release(d.pipe);  // idle: give the pipe back
      return true;
    }
    d.inPipe += static_cast<uint32_t>(n);
  }
}

void PlainRelay::finish(bool reset) {
  if (closed_) return;
  closed_ = true;
  if (timer_) ctx_.loop.cancelTimer(timer_);
  ctx_.loop.remove(down_);
  ctx_.loop.remove(up_);
  // A reset on one side is passed on as a reset, so neither peer mistakes it for a clean end.
  if (reset) {
    closeWithReset(down_);
    closeWithReset(up_);
  } else {
    ::close(down_);
    ::close(up_);
  }
  if (toUp_.inPipe) ctx_.pipes.destroy(toUp_.pipe);
  else ctx_.pipes.release(toUp_.pipe);
  if (toDown_.inPipe) ctx_.pipes.destroy(toDown_.pipe);
  else ctx_.pipes.release(toDown_.pipe);
  counters_->closed.fetch_add(1, std::memory_order_relaxed);
  ctx_.loop.retire(std::unique_ptr<EventHandler>(this));
}

}  // namespace zt
