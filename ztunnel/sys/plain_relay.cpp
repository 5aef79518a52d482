// splice(2) relay. Touches the kernel.
#include "ztunnel/sys/plain_relay.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/log/log.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

namespace {
constexpr size_t kCopyBytes = 16 * 1024;
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
}  // namespace

void PlainRelay::start(WorkerContext& ctx, UniqueFd down, UniqueFd up,
                       std::shared_ptr<TrafficCounters> counters, const char* listener,
                       const InboundFacts* inbound) {
  // Owned by the loop from here on: finish() hands it to EventLoop::retire().
  auto* r = new PlainRelay(ctx, std::move(down), std::move(up), std::move(counters), listener);
  if (inbound != nullptr) {
    ctx.inbound.add(r, *inbound);
    r->tracked_ = true;
  }
  if (!ctx.loop.add(r->down_.get(), kEvents, &r->downWatch_) ||
      !ctx.loop.add(r->up_.get(), kEvents, &r->upWatch_)) {
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

PlainRelay::PlainRelay(WorkerContext& ctx, UniqueFd down, UniqueFd up,
                       std::shared_ptr<TrafficCounters> counters, const char* listener)
    : ctx_(ctx),
      active_(ctx),
      down_(std::move(down)),
      up_(std::move(up)),
      downWatch_{this, 0},
      upWatch_{this, 1},
      listener_(listener),
      counters_(std::move(counters)) {
  counters_->opened.fetch_add(1, std::memory_order_relaxed);
}

PlainRelay::~PlainRelay() = default;

void PlainRelay::onEvents(int tag, uint32_t events) {
  if (closed_) return;
  // Remember a peer FIN: a short read then no longer proves the socket drained (the EOF may
  // have arrived with the data, and no new edge will announce it).
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) (tag == 0 ? toUp_ : toDown_).peerHup = true;
  bool justConnected = false;
  if (connecting_) {
    if (tag != 1) return;  // client bytes wait until upstream is connected
    int err = socketError(up_.get());
    if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
      connecting_ = false;
      justConnected = true;
      if (timer_) ctx_.loop.cancelTimer(timer_);
      timer_ = 0;
    } else if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      ambient::logLine(ambient::LogLevel::kDebug, "upstream connect failed",
                       {{"listener", listener_}, {"errno", std::to_string(err)}});
      ctx_.state.metrics.countRejected(listener_, "upstream_connect_failed");
      finish(true);
      return;
    }
  }
  // Pump only the directions this event can move: reads on the readable side, and the other
  // direction's pipe only when it holds bytes waiting for this side to become writable.
  bool readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  bool writable = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  bool both = justConnected;
  bool ok = true;
  if (tag == 0 || both) {
    if (readable || both) ok = ok && pump(down_.get(), up_.get(), toUp_, counters_->receivedBytes);
    if ((writable && toDown_.inPipe) || both)
      ok = ok && pump(up_.get(), down_.get(), toDown_, counters_->sentBytes);
  }
  if (tag == 1 || both) {
    if (readable || both) ok = ok && pump(up_.get(), down_.get(), toDown_, counters_->sentBytes);
    if ((writable && toUp_.inPipe) || both)
      ok = ok && pump(down_.get(), up_.get(), toUp_, counters_->receivedBytes);
  }
  if (!ok) {
    finish(true);
    return;
  }
  if (toUp_.shut && toDown_.shut) finish(false);
}

bool PlainRelay::pump(int src, int dst, Direction& d, std::atomic<uint64_t>& counter) {
  bool first = true;
  for (;;) {
    if (d.inPipe > 0) {
      ssize_t n = splice(d.pipe.readFd.get(), nullptr, dst, nullptr, d.inPipe,
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
    if (first && !d.bulk) {
      // Small messages (request/response) are cheaper copied through a small per-thread
      // buffer than spliced; a full buffer means bulk, and the rest of it goes by splice.
      first = false;
      static thread_local char buf[kCopyBytes];
      ssize_t n = ::recv(src, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0) {
        d.eof = true;
        continue;
      }
      if (n < 0) {
        if (errno != EAGAIN) return false;
        ctx_.pipes.release(d.pipe);
        return true;
      }
      ssize_t w = ::send(dst, buf, static_cast<size_t>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w < 0) {
        if (errno != EAGAIN) return false;
        w = 0;
      }
      counter.fetch_add(static_cast<uint64_t>(w), std::memory_order_relaxed);
      if (w < n) {  // park the rest in a pipe until dst is writable
        if (!d.pipe) {
          auto p = ctx_.pipes.acquire();
          if (!p) return false;
          d.pipe = std::move(*p);
        }
        ssize_t parked = ::write(d.pipe.writeFd.get(), buf + w, static_cast<size_t>(n - w));
        if (parked != n - w) return false;
        d.inPipe += static_cast<uint32_t>(parked);
        continue;
      }
      // A short read emptied the receive queue; new bytes raise a new edge (safe with EPOLLET).
      if (static_cast<size_t>(n) < sizeof(buf) && !d.peerHup) {
        ctx_.pipes.release(d.pipe);
        return true;
      }
      d.bulk = true;
      continue;
    }
    if (!d.pipe) {
      auto p = ctx_.pipes.acquire();
      if (!p) return false;
      d.pipe = std::move(*p);
    }
    ssize_t n = splice(src, nullptr, d.pipe.writeFd.get(), nullptr, PipePool::kPipeBytes,
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
    d.bulk = static_cast<size_t>(n) >= kCopyBytes;  // small again: next time copy
  }
}

void PlainRelay::finish(bool reset) {
  if (closed_) return;
  closed_ = true;
  if (tracked_) ctx_.inbound.remove(this);
  if (timer_) ctx_.loop.cancelTimer(timer_);
  ctx_.loop.remove(down_.get());
  ctx_.loop.remove(up_.get());
  // A reset on one side is passed on as a reset, so neither peer mistakes it for a clean end.
  if (reset) {
    closeWithReset(std::move(down_));
    closeWithReset(std::move(up_));
  } else {
    down_.reset();
    up_.reset();
  }
  if (toUp_.inPipe)
    ctx_.pipes.destroy(toUp_.pipe);
  else
    ctx_.pipes.release(toUp_.pipe);
  if (toDown_.inPipe)
    ctx_.pipes.destroy(toDown_.pipe);
  else
    ctx_.pipes.release(toDown_.pipe);
  counters_->closed.fetch_add(1, std::memory_order_relaxed);
  ctx_.loop.retire(std::unique_ptr<EventHandler>(this));
}

}  // namespace zt
