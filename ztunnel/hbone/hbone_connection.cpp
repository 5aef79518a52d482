// HBONE connection I/O: TLS handshake and identity checks, TLS <-> nghttp2 pumping, stream
// bookkeeping, deadlines. Touches the kernel and OpenSSL.
#include "ztunnel/hbone/hbone_connection.h"

#include <openssl/err.h>
#include <unistd.h>

#include <cerrno>

#include "common/log/log.h"
#include "ztunnel/core/spiffe_identity.h"
#include "ztunnel/hbone/hbone_pool.h"
#include "ztunnel/hbone/hbone_stream.h"
#include "ztunnel/sys/socket_ops.h"
#include "ztunnel/sys/tls_context.h"

namespace zt {

nghttp2_session_callbacks* hboneCallbacks();  // hbone_callbacks.cpp

namespace {
// flush() stops producing TLS records at kOutHighWater; the last frame it took (at most 16
// records of 16 KiB, see readLength in hbone_callbacks.cpp) may overshoot by kOutSlack.
constexpr size_t kOutHighWater = 512 * 1024;
constexpr size_t kOutSlack = 16 * (16384 + 256);
constexpr size_t kReadChunk = 256 * 1024;
}  // namespace

HboneConnection::HboneConnection(WorkerContext& ctx, Mode mode, UniqueFd fd, SslPtr ssl,
                                 const SocketAddr& peer, const SocketAddr& local,
                                 std::string expectedIdentity)
    : ctx_(ctx),
      mode_(mode),
      fd_(std::move(fd)),
      ssl_(std::move(ssl)),
      peer_(peer),
      local_(local),
      expectedIdentity_(std::move(expectedIdentity)),
      watch_{this, 0},
      state_(mode == Mode::kClient ? State::kConnecting : State::kHandshaking) {
  SSL_set_bio(ssl_.get(), BIO_new_socket(fd_.get(), BIO_NOCLOSE), newAppendBio(&tlsOut_));
  tlsOut_.setGrowthLimit(kOutHighWater + kOutSlack);
}

HboneConnection::~HboneConnection() = default;

Status HboneConnection::start() {
  policy_.trustDomain = ctx_.state.opts.trustDomain;
  policy_.expectedIdentity = mode_ == Mode::kClient ? expectedIdentity_ : std::string();
  attachPeerPolicy(ssl_.get(), &policy_);
  if (auto st = ctx_.loop.add(fd_.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &watch_); !st)
    return st;
  ctx_.hbonePool->track(this);
  timer_ =
      ctx_.loop.addTimer(std::chrono::milliseconds(ctx_.state.opts.handshakeTimeoutMs), [this] {
        timer_ = 0;
        drop("handshake_timeout", "no TLS handshake and CONNECT within the deadline");
      });
  return {};
}

const char* listenerFor(HboneConnection::Mode m) {
  return m == HboneConnection::Mode::kServer ? "inbound_hbone" : "outbound";
}

void HboneConnection::onEvents(int, uint32_t events) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kConnecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (int err = socketError(fd_.get()); err != 0 || (events & EPOLLERR))
      return drop("hbone_connect_failed",
                  "connect to " + peer_.toString() + " errno " + std::to_string(err));
    state_ = State::kHandshaking;
  }
  if (state_ == State::kHandshaking) continueHandshake();
  if (state_ != State::kOpen) return;
  if ((events & EPOLLOUT) && !writeSocket()) return;
  readTls();
  if (state_ == State::kOpen) flush();
}

void HboneConnection::continueHandshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_.get());
  if (r == 1) {
    if (!writeSocket()) return;
    if (auto st = onHandshakeDone(); !st)
      drop(st.error().code == ErrorCode::kProtocol ? "alpn_mismatch" : "peer_identity",
           st.error().context);
    return;
  }
  int err = SSL_get_error(ssl_.get(), r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    writeSocket();
    return;
  }
  std::string why = describeTlsFailure(ssl_.get());
  writeSocket();  // best effort: let the peer see our alert
  tlsBroken_ = true;
  // Name the real cause: the peer's identity (bad_certificate sent), ALPN without h2
  // (no_application_protocol sent), else the chain, the version or the peer itself.
  if (!policy_.identityFailure.empty()) return drop("peer_identity", policy_.identityFailure);
  if (policy_.alpnRefused) return drop("alpn_mismatch", "client offered ALPN without h2");
  drop("tls_handshake", why);
}

Status HboneConnection::onHandshakeDone() {
  if (!alpnAllowsH2(ssl_.get()))
    return zt::fail(ErrorCode::kProtocol, "ALPN selected a protocol other than h2");
  auto id = checkPeerIdentity(peerUriSans(ssl_.get()), ctx_.state.opts.trustDomain,
                              mode_ == Mode::kClient ? expectedIdentity_ : std::string());
  if (!id) return zt::fail(id.error());
  peerIdentity_ = id->toUri();
  nghttp2_option* rawOpt = nullptr;
  if (nghttp2_option_new(&rawOpt) != 0)
    return zt::fail(ErrorCode::kInternal, "nghttp2_option_new: out of memory");
  NghttpOptionPtr opt(rawOpt);
  nghttp2_option_set_no_auto_window_update(opt.get(), 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt.get(), 100);
  nghttp2_session* session = nullptr;
  int rv = mode_ == Mode::kServer
               ? nghttp2_session_server_new2(&session, hboneCallbacks(), this, opt.get())
               : nghttp2_session_client_new2(&session, hboneCallbacks(), this, opt.get());
  session_.reset(session);
  if (rv != 0)
    return zt::fail(ErrorCode::kInternal, std::string("nghttp2 session: ") + nghttp2_strerror(rv));
  const Options& o = ctx_.state.opts;
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, mode_ == Mode::kServer ? 1000u : 100u},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, effectiveStreamWindow(o)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, o.frameSize},
  };
  nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, 3);
  nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(effectiveConnectionWindow(o)));
  state_ = State::kOpen;
  if (mode_ == Mode::kClient) {
    if (timer_) ctx_.loop.cancelTimer(timer_);
    timer_ = 0;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& [stream, authority] : waiting) openStream(stream, authority);
  }
  return {};
}

void HboneConnection::readTls() {
  // Decrypt many records into one buffer, then hand nghttp2 one large chunk: fewer callbacks
  // and bigger writes towards the plain socket.
  static thread_local uint8_t buf[kReadChunk + 32 * 1024];
  for (;;) {
    size_t filled = 0;
    bool wouldBlock = false;
    bool eof = false;
    while (filled < kReadChunk) {
      ERR_clear_error();
      int n = SSL_read(ssl_.get(), buf + filled, static_cast<int>(sizeof(buf) - filled));
      if (n > 0) {
        filled += static_cast<size_t>(n);
        continue;
      }
      int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        wouldBlock = true;
      } else if (err == SSL_ERROR_ZERO_RETURN) {
        eof = true;  // close_notify
      } else if ((err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) ||
                 (err == SSL_ERROR_SSL &&
                  ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        eof = true;  // FIN without close_notify: TLS can no longer speak
        tlsBroken_ = true;
      } else {
        tlsBroken_ = true;
        return drop("tls_read", describeTlsFailure(ssl_.get()));
      }
      break;
    }
    if (filled) {
      ssize_t rv = nghttp2_session_mem_recv(session_.get(), buf, filled);
      if (rv < 0) return drop("h2_protocol_error", nghttp2_strerror(static_cast<int>(rv)));
      if (state_ != State::kOpen) return;
    }
    if (eof) {
      // A peer that leaves after its streams ended closes normally; one that leaves in the
      // middle of streams truncates them.
      if (hasOpenStreams()) return drop("peer_closed_mid_stream", "EOF with streams open");
      return close();
    }
    if (wouldBlock) return;
  }
}

bool HboneConnection::writeSocket() {
  while (!tlsOut_.empty()) {
    auto f = tlsOut_.front();
    ssize_t n = ::send(fd_.get(), f.data(), f.size(), MSG_NOSIGNAL);
    if (n > 0) {
      tlsOut_.consume(static_cast<size_t>(n));
      lastWrite_ = std::chrono::steady_clock::now();
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      if (!stallTimer_ && state_ == State::kOpen) {
        lastWrite_ = std::chrono::steady_clock::now();  // a new wait starts now
        armStallTimer();
      }
      return true;
    }
    int e = errno;
    tlsOut_.consume(tlsOut_.size());
    tlsBroken_ = true;
    drop("tls_write", "send: errno " + std::to_string(e));
    return false;
  }
  return true;
}

void HboneConnection::armStallTimer() {
  // A peer that stops reading its socket holds our output (bounded: kOutHighWater) and its
  // streams forever; once none of the pending bytes leaves for --stall-timeout-ms it is dropped.
  auto limit = std::chrono::milliseconds(ctx_.state.opts.stallTimeoutMs);
  auto due = lastWrite_ + limit - std::chrono::steady_clock::now();
  auto delay = std::max(std::chrono::milliseconds(1),
                        std::chrono::duration_cast<std::chrono::milliseconds>(due));
  stallTimer_ = ctx_.loop.addTimer(delay, [this, limit] {
    stallTimer_ = 0;
    if (state_ == State::kClosed || tlsOut_.empty()) return;
    if (std::chrono::steady_clock::now() - lastWrite_ >= limit)
      return drop("peer_not_reading",
                  "no output taken for " + std::to_string(limit.count()) + " ms");
    armStallTimer();
  });
}

void HboneConnection::flush() {
  if (state_ != State::kOpen) return;
  for (;;) {
    bool more = true;
    while (tlsOut_.size() < kOutHighWater) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
      if (n < 0) return drop("h2_protocol_error", nghttp2_strerror(static_cast<int>(n)));
      if (n == 0) {
        more = false;
        break;
      }
      ERR_clear_error();
      // The append BIO never blocks, so SSL_write takes the whole frame.
      if (SSL_write(ssl_.get(), data, static_cast<int>(n)) != n) {
        tlsBroken_ = true;
        return drop("tls_write", describeTlsFailure(ssl_.get()));
      }
    }
    if (!writeSocket()) return;
    if (!tlsOut_.empty()) return;  // socket full: EPOLLOUT resumes
    if (!more) break;
  }
  if (!nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get()))
    close();
}

void HboneConnection::countOnce(const std::string& reason) {
  if (counted_) return;
  counted_ = true;
  ctx_.state.metrics.countRejected(listenerFor(mode_), reason);
}

bool HboneConnection::hasOpenStreams() const {
  return !streams_.empty() || !requests_.empty() || !waiting_.empty();
}

void HboneConnection::drop(const std::string& reason, const std::string& detail) {
  if (state_ == State::kClosed) return;
  countOnce(reason);
  ambient::logLine(ambient::LogLevel::kDebug, "HBONE connection failed",
                   {{"peer", peer_.toString()}, {"reason", reason}, {"detail", detail}});
  close();
}

void HboneConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (timer_) ctx_.loop.cancelTimer(timer_);
  timer_ = 0;
  if (stallTimer_) ctx_.loop.cancelTimer(stallTimer_);
  stallTimer_ = 0;
  ctx_.loop.remove(fd_.get());
  if (!tlsBroken_ && SSL_is_init_finished(ssl_.get())) {
    // close_notify, best effort: whatever the socket takes now (no waiting for the peer's).
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    while (!tlsOut_.empty()) {
      auto f = tlsOut_.front();
      ssize_t n = ::send(fd_.get(), f.data(), f.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) break;
      tlsOut_.consume(static_cast<size_t>(n));
    }
  }
  ssl_.reset();
  fd_.reset();
  for (HboneStream* s : tails_) s->onCreditConnectionGone();
  tails_.clear();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) s->onConnectionLost();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [s, a] : waiting) s->onConnectionLost();
  ctx_.hbonePool->untrack(this);
  ctx_.loop.retire(std::unique_ptr<EventHandler>(this));
}

}  // namespace zt
