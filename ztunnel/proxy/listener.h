// Accepting sockets of one worker (15001 outbound, 15006 inbound plaintext, 15008 inbound HBONE)
// and the per-listener accept handling: limits, loop checks, routing. Touches the kernel.
#pragma once

#include <memory>

#include "ztunnel/sys/event_loop.h"
#include "ztunnel/sys/proxy_state.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

enum class ListenerKind { kOutbound, kInboundPlain, kInboundHbone };
const char* listenerName(ListenerKind kind);

class Listener : public EventHandler {
 public:
  static Result<std::unique_ptr<Listener>> open(WorkerContext& ctx, ListenerKind kind,
                                                const IpAddr& ip);
  ~Listener() override;
  void onEvents(int tag, uint32_t events) override;
  void close();

 private:
  Listener(WorkerContext& ctx, ListenerKind kind, UniqueFd fd);
  void handle(UniqueFd fd);

  WorkerContext& ctx_;
  ListenerKind kind_;
  UniqueFd fd_;
  Watch watch_;
};

// Per-kind accept handlers (outbound_accept.cpp; 15008: acceptInboundHbone in
// ztunnel/hbone/hbone_server.h).
void acceptOutbound(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer, const SocketAddr& dst);
void acceptInboundPlain(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer,
                        const SocketAddr& dst);

}  // namespace zt
