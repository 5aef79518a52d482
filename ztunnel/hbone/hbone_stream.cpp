// Plain-socket side of an HBONE stream: direct recv into nghttp2 DATA frames, direct send of
// received DATA with flow-control credit returned only for bytes the socket took. Touches the
// kernel.
#include "ztunnel/hbone/hbone_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/log/log.h"
#include "ztunnel/hbone/hbone_connection.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

namespace {

ssize_t readCallback(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                     uint32_t* flags, nghttp2_data_source*, void*) {
  auto* s = static_cast<HboneStream*>(nghttp2_session_get_stream_user_data(session, id));
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // detached: the stream is being reset
  return s->readForH2(buf, length, flags);
}

}  // namespace

nghttp2_data_provider HboneStream::provider(HboneStream* s) {
  nghttp2_data_provider p{};
  p.source.ptr = s;
  p.read_callback = readCallback;
  return p;
}

HboneStream::HboneStream(WorkerContext& ctx, UniqueFd fd, std::shared_ptr<TrafficCounters> counters,
                         bool outbound, bool connecting, const char* listener)
    : ctx_(ctx),
      active_(ctx),
      fd_(std::move(fd)),
      counters_(std::move(counters)),
      outbound_(outbound),
      connecting_(connecting),
      listener_(listener),
      watch_{this, 0} {
  counters_->opened.fetch_add(1, std::memory_order_relaxed);
  toPlain_.setGrowthLimit(effectiveStreamWindow(ctx_.state.opts));
}

HboneStream::~HboneStream() = default;

Status HboneStream::start() {
  if (auto st = ctx_.loop.add(fd_.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &watch_); !st)
    return st;
  if (connecting_) {
    timer_ =
        ctx_.loop.addTimer(std::chrono::milliseconds(ctx_.state.opts.connectTimeoutMs), [this] {
          timer_ = 0;
          if (connecting_) onUpstreamConnected(false);
        });
  }
  return {};
}

void HboneStream::attach(HboneConnection* conn, int32_t id) {
  conn_ = conn;
  id_ = id;
}

void HboneStream::onEvents(int, uint32_t events) {
  if (closed_) return;
  if (connecting_) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      onUpstreamConnected(socketError(fd_.get()) == 0 && !(events & EPOLLERR));
    return;
  }
  if (events & EPOLLERR) {
    // The plain peer reset (or the socket failed). Noticed here even while the stream is blocked
    // on HTTP/2 flow control and nghttp2 is not asking us for bytes: pass the reset on now.
    if (conn_ && !h2Closed_) {
      conn_->resetStream(id_, NGHTTP2_CANCEL);
      conn_->flush();
    }
    return finish(true);
  }
  if (events & EPOLLOUT) writePending();
  if (closed_) return;
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && deferred_ && conn_) {
    deferred_ = false;
    conn_->resumeData(id_);
    conn_->flush();
  }
}

void HboneStream::onUpstreamConnected(bool ok) {
  connecting_ = false;
  if (timer_) ctx_.loop.cancelTimer(timer_);
  timer_ = 0;
  if (!conn_) return finish(true);
  if (!ok) {
    ctx_.state.metrics.countRejected(listener_, "upstream_connect_failed");
    conn_->submitResponse(id_, 503, false);
    conn_->flush();
    if (conn_) conn_->detach(this);
    conn_ = nullptr;
    return finish(false);
  }
  established_ = true;
  conn_->submitResponse(id_, 200, true);
  writePending();  // bytes that arrived with or right after the CONNECT
  if (conn_) conn_->flush();
}

ssize_t HboneStream::readForH2(uint8_t* buf, size_t length, uint32_t* flags) {
  if (!established_ || closed_) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  ssize_t n = ::recv(fd_.get(), buf, length, 0);
  if (n > 0) {
    (outbound_ ? counters_->receivedBytes : counters_->sentBytes)
        .fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    return n;
  }
  if (n == 0) {
    plainEof_ = true;
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  if (errno == EAGAIN) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // plain side reset: reset the stream too
}

void HboneStream::onH2Data(const uint8_t* data, size_t len) {
  if (closed_) {
    if (conn_) conn_->consume(id_, len);
    return;
  }
  size_t written = 0;
  if (!connecting_ && toPlain_.empty()) {
    ssize_t n = ::send(fd_.get(), data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) {
      if (conn_) conn_->resetStream(id_, NGHTTP2_CANCEL);
      return;
    }
    written = n > 0 ? static_cast<size_t>(n) : 0;
    (outbound_ ? counters_->sentBytes : counters_->receivedBytes)
        .fetch_add(written, std::memory_order_relaxed);
    if (conn_ && written) conn_->consume(id_, written);
  }
  // Only the unsent rest is kept; nghttp2 refuses DATA beyond the window we advertised, so this
  // stays within --stream-window (and all streams together within the connection window).
  if (written < len) toPlain_.append(data + written, len - written);
}

void HboneStream::writePending() {
  if (connecting_ || closed_) return;
  size_t moved = 0;
  while (!toPlain_.empty()) {
    auto f = toPlain_.front();
    ssize_t n = ::send(fd_.get(), f.data(), f.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN) break;
      if (conn_) {
        conn_->resetStream(id_, NGHTTP2_CANCEL);
        conn_->flush();
      }
      return finish(true);
    }
    toPlain_.consume(static_cast<size_t>(n));
    moved += static_cast<size_t>(n);
  }
  if (moved) {
    (outbound_ ? counters_->sentBytes : counters_->receivedBytes)
        .fetch_add(moved, std::memory_order_relaxed);
    if (conn_ && !h2Closed_) {
      conn_->consume(id_, moved);
      conn_->flush();
    } else if (creditConn_) {
      creditConn_->consumeConnection(moved);
      creditConn_->flush();
    }
  }
  if (toPlain_.empty()) {
    toPlain_.shrinkIfEmpty();  // a burst is over: give the memory back
    if (h2End_ && !shutSent_) {
      ::shutdown(fd_.get(), SHUT_WR);
      shutSent_ = true;
    }
  }
  maybeFinish();
}

void HboneStream::onH2End() {
  h2End_ = true;
  if (!connecting_ && toPlain_.empty() && !shutSent_ && !closed_) {
    ::shutdown(fd_.get(), SHUT_WR);
    shutSent_ = true;
  }
}

void HboneStream::onResponse(int status) {
  if (status == 200) {
    established_ = true;
    if (conn_) conn_->resumeData(id_);
    return;
  }
  ambient::logLine(ambient::LogLevel::kDebug, "HBONE CONNECT refused",
                   {{"status", std::to_string(status)}});
  ctx_.state.metrics.countRejected(listener_, "hbone_status_" + std::to_string(status));
  if (conn_) conn_->detach(this);
  conn_ = nullptr;
  finish(true);
}

void HboneStream::returnCredit(size_t n) {
  if (n == 0) return;
  if (conn_ && !h2Closed_)
    conn_->consumeConnection(n);
  else if (creditConn_)
    creditConn_->consumeConnection(n);
}

void HboneStream::onH2Closed(uint32_t errorCode) {
  h2Closed_ = true;
  if (conn_ && !toPlain_.empty()) {
    creditConn_ = conn_;  // the tail still counts against the connection window
    conn_->addTail(this);
  }
  conn_ = nullptr;
  if (errorCode != NGHTTP2_NO_ERROR || !established_) return finish(true);
  maybeFinish();
}

void HboneStream::onConnectionLost() {
  conn_ = nullptr;
  h2Closed_ = true;
  finish(true);
}

void HboneStream::maybeFinish() {
  if (closed_ || !h2Closed_) return;
  if (!toPlain_.empty()) return;  // still delivering the tail
  finish(false);
}

void HboneStream::trackInbound(InboundFacts facts) {
  ctx_.inbound.add(this, std::move(facts));
  tracked_ = true;
}

void HboneStream::closeDeniedByPolicy() {
  HboneConnection* conn = conn_;
  finish(true);  // submits RST_STREAM while the HTTP/2 stream is open
  if (conn) conn->flush();
}

void HboneStream::finish(bool reset) {
  if (closed_) return;
  closed_ = true;
  if (tracked_) ctx_.inbound.remove(this);
  if (timer_) ctx_.loop.cancelTimer(timer_);
  ctx_.loop.remove(fd_.get());
  if (reset)
    closeWithReset(std::move(fd_));
  else
    fd_.reset();
  returnCredit(toPlain_.size());  // dropped bytes: give their connection window back
  if (creditConn_) {
    creditConn_->removeTail(this);
    creditConn_ = nullptr;
  }
  if (conn_) {
    if (!h2Closed_) conn_->resetStream(id_, NGHTTP2_CANCEL);
    conn_->detach(this);
    conn_ = nullptr;
  }
  counters_->closed.fetch_add(1, std::memory_order_relaxed);
  ctx_.loop.retire(std::unique_ptr<EventHandler>(this));
}

}  // namespace zt
