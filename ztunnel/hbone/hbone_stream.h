// One proxied connection carried as an HBONE stream: the plain TCP socket side (client socket
// outbound, upstream workload socket inbound) and its HTTP/2 stream. Touches the kernel.
#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>
#include <string>

#include "ztunnel/core/byte_ring.h"
#include "ztunnel/core/metrics_registry.h"
#include "ztunnel/sys/event_loop.h"
#include "ztunnel/sys/proxy_state.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

class HboneConnection;

class HboneStream : public EventHandler, public PolicyClosable {
 public:
  // `outbound`: the plain socket is the client (request bytes flow plain -> h2).
  // `connecting`: the plain socket's connect is still in progress (inbound upstream).
  HboneStream(WorkerContext& ctx, UniqueFd fd, std::shared_ptr<TrafficCounters> counters,
              bool outbound, bool connecting, const char* listener);
  ~HboneStream() override;
  Status start();
  void onEvents(int tag, uint32_t events) override;

  // From the connection (inside nghttp2 callbacks).
  void attach(HboneConnection* conn, int32_t id);
  ssize_t readForH2(uint8_t* buf, size_t length, uint32_t* flags);
  void onH2Data(const uint8_t* data, size_t len);
  void onH2End();
  void onH2Closed(uint32_t errorCode);
  void onResponse(int status);  // client side
  void onConnectionLost();      // the connection died; reset the plain side
  void onCreditConnectionGone() { creditConn_ = nullptr; }  // see creditConn_

  // Inbound: registers the stream for re-checks after a policy update.
  void trackInbound(InboundFacts facts);
  // RST_STREAM (CANCEL) towards the peer and a reset of the workload socket.
  void closeDeniedByPolicy() override;

  int32_t id() const { return id_; }
  static nghttp2_data_provider provider(HboneStream* s);

 private:
  void onUpstreamConnected(bool ok);
  void writePending();
  void maybeFinish();
  void finish(bool reset);

  WorkerContext& ctx_;
  ActiveConnection active_;
  UniqueFd fd_;
  std::shared_ptr<TrafficCounters> counters_;
  bool outbound_;
  bool connecting_;
  const char* listener_;
  Watch watch_;
  HboneConnection* conn_ = nullptr;
  int32_t id_ = -1;
  bool established_ = false;  // may move bytes both ways
  bool deferred_ = false;     // the data provider is waiting for socket bytes
  bool plainEof_ = false;     // plain side sent FIN (END_STREAM queued)
  bool h2End_ = false;        // peer sent END_STREAM
  bool shutSent_ = false;     // we half-closed the plain socket
  bool h2Closed_ = false;
  bool closed_ = false;
  bool tracked_ = false;  // in ctx_.inbound
  uint64_t timer_ = 0;
  // DATA received but not yet taken by the plain socket. Credit is returned only for bytes the
  // socket took, so it never holds more than the stream's receive window.
  ByteRing toPlain_;
  // After the HTTP/2 stream closed, the connection whose window still counts the bytes in
  // toPlain_: credit goes back to it as the tail drains, or all at once when we drop the tail.
  // Without this a closed stream's undelivered bytes would shrink the connection window for good.
  HboneConnection* creditConn_ = nullptr;
  void returnCredit(size_t n);
};

}  // namespace zt
