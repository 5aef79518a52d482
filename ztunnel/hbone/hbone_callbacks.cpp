// nghttp2 callbacks of an HBONE connection: collect CONNECT headers and :status, route DATA and
// END_STREAM to streams, track GOAWAY/SETTINGS, count protocol errors. Touches nothing directly.
#include <cctype>
#include <cstdlib>

#include "ztunnel/hbone/hbone_connection.h"
#include "ztunnel/hbone/hbone_stream.h"

namespace zt {

struct HboneConnection::Callbacks {
  static HboneConnection* self(void* p) { return static_cast<HboneConnection*>(p); }
  static HboneStream* stream(nghttp2_session* s, int32_t id) {
    return static_cast<HboneStream*>(nghttp2_session_get_stream_user_data(s, id));
  }

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto* c = self(p);
    if (c->mode_ == Mode::kServer && f->hd.type == NGHTTP2_HEADERS &&
        f->headers.cat == NGHTTP2_HCAT_REQUEST)
      c->requests_[f->hd.stream_id] = ConnectRequest{};
    return 0;
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* p) {
    auto* c = self(p);
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (c->mode_ == Mode::kServer) {
      auto it = c->requests_.find(f->hd.stream_id);
      if (it == c->requests_.end()) return 0;
      if (n == ":method")
        it->second.method = v;
      else if (n == ":authority")
        it->second.authority = v;
      else if (n == ":scheme")
        it->second.scheme = v;
      else if (n == ":path")
        it->second.path = v;
      else if (n == ":protocol")
        it->second.protocol = v;
    } else if (n == ":status") {
      c->responses_[f->hd.stream_id] = std::atoi(v.c_str());
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session* s, const nghttp2_frame* f, void* p) {
    auto* c = self(p);
    int32_t id = f->hd.stream_id;
    bool endStream = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (f->hd.type) {
      case NGHTTP2_HEADERS:
        if (c->mode_ == Mode::kServer && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
          c->onRequest(id);
        } else if (c->mode_ == Mode::kClient && f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
          int status = c->responses_[id];
          c->responses_.erase(id);
          if (auto* st = stream(s, id)) st->onResponse(status);
        }
        if (endStream)
          if (auto* st = stream(s, id)) st->onH2End();
        break;
      case NGHTTP2_DATA:
        if (endStream)
          if (auto* st = stream(s, id)) st->onH2End();
        break;
      case NGHTTP2_GOAWAY:
        c->peerGoAway_ = true;
        break;
      case NGHTTP2_SETTINGS:
        c->peerMaxStreams_ =
            nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        break;
      default:
        break;
    }
    return 0;
  }

  static int onDataChunk(nghttp2_session* s, uint8_t, int32_t id, const uint8_t* data, size_t len,
                         void* p) {
    if (auto* st = stream(s, id))
      st->onH2Data(data, len);
    else
      self(p)->consume(id, len);  // stream gone: keep the connection window open
    return 0;
  }

  static int onStreamClose(nghttp2_session* s, int32_t id, uint32_t error, void* p) {
    auto* c = self(p);
    c->requests_.erase(id);
    c->responses_.erase(id);
    if (auto* st = stream(s, id)) {
      c->streams_.erase(id);
      nghttp2_session_set_stream_user_data(s, id, nullptr);
      st->onH2Closed(error);
    }
    if (c->streams_.empty()) c->armIdleTimer();
    return 0;
  }

  // "h2_flow_control_error" style reason from an HTTP/2 error code.
  static std::string reasonFor(const char* prefix, uint32_t code) {
    std::string r = prefix;
    for (const char* c = nghttp2_http2_strerror(code); *c; ++c)
      r += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    return r;
  }

  static int onFrameSend(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto* c = self(p);
    // A connection error ends the connection: counted once, under the code we sent.
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR)
      c->countOnce(reasonFor("h2_", f->goaway.error_code));
    // A stream error refuses one stream (our own CANCELs pass on a plain-side reset: not counted).
    if (f->hd.type == NGHTTP2_RST_STREAM && f->rst_stream.error_code != NGHTTP2_NO_ERROR &&
        f->rst_stream.error_code != NGHTTP2_CANCEL)
      c->ctx_.state.metrics.countRejected(listenerFor(c->mode_),
                                          reasonFor("h2_stream_", f->rst_stream.error_code));
    return 0;
  }

  static ssize_t readLength(nghttp2_session*, uint8_t, int32_t, int32_t sessionWindow,
                            int32_t streamWindow, uint32_t remoteMaxFrame, void*) {
    // Bigger DATA frames mean fewer callbacks and syscalls; still within windows and peer limits.
    // 16 TLS records minus the 9-byte frame header: a frame fills whole records, no runt record.
    constexpr ssize_t kFrame = 16 * 16384 - 9;
    return std::min<ssize_t>(
        {sessionWindow, streamWindow, static_cast<ssize_t>(remoteMaxFrame), kFrame});
  }

  static nghttp2_session_callbacks* get() {
    static nghttp2_session_callbacks* cbs = [] {
      nghttp2_session_callbacks* c = nullptr;
      nghttp2_session_callbacks_new(&c);
      nghttp2_session_callbacks_set_on_begin_headers_callback(c, onBeginHeaders);
      nghttp2_session_callbacks_set_on_header_callback(c, onHeader);
      nghttp2_session_callbacks_set_on_frame_recv_callback(c, onFrameRecv);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, onDataChunk);
      nghttp2_session_callbacks_set_on_stream_close_callback(c, onStreamClose);
      nghttp2_session_callbacks_set_on_frame_send_callback(c, onFrameSend);
      nghttp2_session_callbacks_set_data_source_read_length_callback(c, readLength);
      return c;
    }();
    return cbs;
  }
};

nghttp2_session_callbacks* hboneCallbacks() {
  return HboneConnection::Callbacks::get();
}

}  // namespace zt
