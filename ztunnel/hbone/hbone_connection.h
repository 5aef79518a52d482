// One HBONE connection: TLS on a non-blocking socket carrying an nghttp2 session, server side
// (15008) or pooled client side; owns its streams' HTTP/2 state. Touches the kernel and OpenSSL.
#pragma once

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ztunnel/core/byte_ring.h"
#include "ztunnel/core/ip_addr.h"
#include "ztunnel/core/route_plan.h"
#include "ztunnel/sys/event_loop.h"
#include "ztunnel/sys/proxy_state.h"
#include "ztunnel/sys/socket_ops.h"
#include "ztunnel/sys/tls_context.h"

namespace zt {

using NghttpSessionPtr = ambient::CPtr<nghttp2_session, nghttp2_session_del>;
using NghttpOptionPtr = ambient::CPtr<nghttp2_option, nghttp2_option_del>;

class HboneStream;
class HboneConnection;

class HboneConnection : public EventHandler {
 public:
  enum class Mode { kServer, kClient };
  // `expectedIdentity` (client side): the peer identity required; empty: any identity of our
  // trust domain.
  HboneConnection(WorkerContext& ctx, Mode mode, UniqueFd fd, SslPtr ssl, const SocketAddr& peer,
                  const SocketAddr& local, std::string expectedIdentity = {});
  ~HboneConnection() override;
  Status start();  // register with the loop, arm the handshake deadline
  void onEvents(int tag, uint32_t events) override;

  // Client side.
  bool acceptsStreams() const;
  void openStream(HboneStream* stream, const SocketAddr& authority);

  // Used by streams (never from inside nghttp2 callbacks unless noted).
  void resumeData(int32_t id);         // safe in callbacks
  void consume(int32_t id, size_t n);  // safe in callbacks
  void consumeConnection(size_t n);    // safe in callbacks
  // Streams closed at the HTTP/2 level that still deliver a tail (they return connection credit).
  void addTail(HboneStream* s) { tails_.insert(s); }
  void removeTail(HboneStream* s) { tails_.erase(s); }
  void resetStream(int32_t id, uint32_t code);                 // safe in callbacks
  void submitResponse(int32_t id, int status, bool withData);  // server side
  void flush();
  void detach(HboneStream* stream);
  void goAway();  // drain: no new streams
  size_t streamCount() const { return streams_.size(); }

  const std::string& peerIdentity() const { return peerIdentity_; }
  const SocketAddr& peer() const { return peer_; }
  const SocketAddr& local() const { return local_; }
  WorkerContext& ctx() { return ctx_; }

  // nghttp2 callbacks (hbone_callbacks.cpp).
  struct Callbacks;
  friend struct Callbacks;

 private:
  enum class State { kConnecting, kHandshaking, kOpen, kClosed };
  void continueHandshake();
  Status onHandshakeDone();
  void readTls();
  bool writeSocket();  // false: the connection was dropped
  // Refusal or failure: counted once per connection under `reason`, then close().
  void drop(const std::string& reason, const std::string& detail);
  void countOnce(const std::string& reason);
  // Orderly when the handshake completed and TLS is intact: close_notify is sent first.
  void close();
  bool hasOpenStreams() const;
  void armIdleTimer();
  void onRequest(int32_t id);  // server: a complete CONNECT header block arrived

  WorkerContext& ctx_;
  Mode mode_;
  UniqueFd fd_;
  SslPtr ssl_;
  SocketAddr peer_;
  SocketAddr local_;
  std::string expectedIdentity_;  // client side; empty: any identity of our trust domain
  Watch watch_;
  State state_;
  NghttpSessionPtr session_;
  uint64_t timer_ = 0;
  bool goingAway_ = false;
  bool peerGoAway_ = false;
  uint32_t peerMaxStreams_ = 100;
  std::string peerIdentity_;
  bool counted_ = false;     // a rejection was counted for this connection
  uint64_t stallTimer_ = 0;  // armed while output waits for the socket
  std::chrono::steady_clock::time_point lastWrite_{};
  void armStallTimer();
  bool tlsBroken_ = false;  // fatal TLS error or socket error: no close_notify
  PeerPolicy policy_;
  // Encrypted bytes not yet taken by the socket; flush() stops producing at kOutHighWater.
  ByteRing tlsOut_;
  std::map<int32_t, HboneStream*> streams_;
  std::set<HboneStream*> tails_;
  std::map<int32_t, ConnectRequest> requests_;  // server: header blocks being received
  std::map<int32_t, int> responses_;            // client: :status by stream
  std::vector<std::pair<HboneStream*, SocketAddr>> waiting_;  // client: before the handshake
};

// Listener name used in rejection counters for a connection's side.
const char* listenerFor(HboneConnection::Mode m);

}  // namespace zt
