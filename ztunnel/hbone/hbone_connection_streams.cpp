// HBONE connection, stream side: opening CONNECT streams (client), responses (server), flow
// control credit, resets, detaching, idle close and GOAWAY. Touches nghttp2 state only.
#include <string>

#include "ztunnel/hbone/hbone_connection.h"
#include "ztunnel/hbone/hbone_stream.h"

namespace zt {

bool HboneConnection::acceptsStreams() const {
  if (state_ == State::kClosed || goingAway_ || peerGoAway_) return false;
  size_t limit = std::min<size_t>(peerMaxStreams_, ctx_.state.opts.maxStreamsPerConnection);
  if (streams_.size() + waiting_.size() >= limit) return false;
  // Streams to stalled readers can hold the peer's whole connection window; a new stream on
  // that connection would wait behind them, so it goes to another connection instead.
  constexpr int32_t kMinSendWindow = 64 * 1024;
  return state_ != State::kOpen ||
         nghttp2_session_get_remote_window_size(session_.get()) >= kMinSendWindow;
}

void HboneConnection::openStream(HboneStream* stream, const SocketAddr& authority) {
  if (state_ != State::kOpen) {
    waiting_.emplace_back(stream, authority);
    return;
  }
  if (timer_) ctx_.loop.cancelTimer(timer_);  // idle timer
  timer_ = 0;
  std::string auth = authority.toString();
  const char* method = "CONNECT";
  nghttp2_nv nva[] = {
      {(uint8_t*)":method", (uint8_t*)method, 7, 7, NGHTTP2_NV_FLAG_NO_COPY_NAME},
      {(uint8_t*)":authority", (uint8_t*)auth.data(), 10, auth.size(),
       NGHTTP2_NV_FLAG_NO_COPY_NAME},
  };
  nghttp2_data_provider p = HboneStream::provider(stream);
  int32_t id = nghttp2_submit_request(session_.get(), nullptr, nva, 2, &p, stream);
  if (id < 0) {
    stream->onConnectionLost();
    return;
  }
  stream->attach(this, id);
  streams_[id] = stream;
  flush();
}

void HboneConnection::resumeData(int32_t id) {
  if (session_) nghttp2_session_resume_data(session_.get(), id);
}

void HboneConnection::consume(int32_t id, size_t n) {
  if (session_) nghttp2_session_consume(session_.get(), id, n);
}

void HboneConnection::consumeConnection(size_t n) {
  if (session_) nghttp2_session_consume_connection(session_.get(), n);
}

void HboneConnection::resetStream(int32_t id, uint32_t code) {
  if (session_) nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, id, code);
}

void HboneConnection::submitResponse(int32_t id, int status, bool withData) {
  if (!session_) return;
  std::string s = std::to_string(status);
  nghttp2_nv nva[] = {
      {(uint8_t*)":status", (uint8_t*)s.data(), 7, s.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME}};
  nghttp2_data_provider p{};
  if (withData) {
    auto* stream =
        static_cast<HboneStream*>(nghttp2_session_get_stream_user_data(session_.get(), id));
    p = HboneStream::provider(stream);
  }
  nghttp2_submit_response(session_.get(), id, nva, 1, withData ? &p : nullptr);
}

void HboneConnection::detach(HboneStream* stream) {
  auto it = streams_.find(stream->id());
  if (it != streams_.end() && it->second == stream) {
    streams_.erase(it);
    if (session_) nghttp2_session_set_stream_user_data(session_.get(), stream->id(), nullptr);
  }
  if (streams_.empty()) armIdleTimer();
}

void HboneConnection::armIdleTimer() {
  tlsOut_.shrinkIfEmpty();  // no streams: give memory back
  if (mode_ != Mode::kClient || state_ != State::kOpen || timer_) return;
  if (goingAway_) return;  // closes once flushed
  timer_ = ctx_.loop.addTimer(std::chrono::milliseconds(ctx_.state.opts.poolIdleMs), [this] {
    timer_ = 0;
    if (streams_.empty()) close();
  });
}

void HboneConnection::goAway() {
  goingAway_ = true;
  if (state_ != State::kOpen) return;
  if (mode_ == Mode::kServer) {
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_.get()), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    flush();
  } else if (streams_.empty()) {
    close();
  }
}

}  // namespace zt
