// 15001: route a redirected client connection (VIP balancing, HBONE or plain TCP) and start it.
// Touches the kernel.
#include <unistd.h>

#include "common/log/log.h"
#include "ztunnel/core/route_plan.h"
#include "ztunnel/hbone/hbone_client.h"
#include "ztunnel/proxy/listener.h"
#include "ztunnel/sys/plain_relay.h"
#include "ztunnel/sys/socket_ops.h"
#include "ztunnel/sys/traffic_labels.h"

namespace zt {

void acceptOutbound(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer, const SocketAddr& dst) {
  const char* name = listenerName(ListenerKind::kOutbound);
  if (isOwnListener(ctx.state.opts, dst)) {
    ctx.state.metrics.countRejected(name, "loop");
    closeWithReset(std::move(fd));
    return;
  }
  auto view = ctx.state.snapshot();
  OutboundRoute route = computeOutboundRoute(*view, peer, dst, ctx.rng(), ctx.state.opts.peerHbonePort);
  if (route.kind == RouteKind::kReject) {
    ambient::logLine(ambient::LogLevel::kDebug, "outbound refused",
            {{"src", peer.toString()}, {"dst", dst.toString()}, {"reason", route.reason}});
    ctx.state.metrics.countRejected(name, "no_route");
    closeWithReset(std::move(fd));
    return;
  }
  bool hbone = route.kind == RouteKind::kHbone;
  auto counters = ctx.state.metrics.traffic(
      makeTrafficLabels("source", route.source, route.destination, route.service, hbone));
  if (hbone) {
    startHboneOutbound(ctx, std::move(fd), peer, route, std::move(counters));
    return;
  }
  auto up = connectFrom(route.connectTo, originalSourceFor(ctx.state.opts, peer.ip, route.connectTo.ip),
                        ctx.state.opts.mark);
  if (!up) {
    ambient::logLine(ambient::LogLevel::kDebug, "outbound connect failed", {{"error", up.error().message()}});
    ctx.state.metrics.countRejected(name, "upstream_connect_failed");
    closeWithReset(std::move(fd));
    return;
  }
  PlainRelay::start(ctx, std::move(fd), std::move(*up), std::move(counters), name);
}

void acceptInboundPlain(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer, const SocketAddr& dst) {
  const char* name = listenerName(ListenerKind::kInboundPlain);
  if (isOwnListener(ctx.state.opts, dst)) {
    ctx.state.metrics.countRejected(name, "loop");
    closeWithReset(std::move(fd));
    return;
  }
  auto view = ctx.state.snapshot();
  auto counters = ctx.state.metrics.traffic(makeTrafficLabels(
      "destination", view->findWorkloadByIp(peer.ip), view->findWorkloadByIp(dst.ip), nullptr, false));
  auto up = connectFrom(dst, originalSourceFor(ctx.state.opts, peer.ip, dst.ip), ctx.state.opts.mark);
  if (!up) {
    ambient::logLine(ambient::LogLevel::kDebug, "inbound connect failed", {{"error", up.error().message()}});
    ctx.state.metrics.countRejected(name, "upstream_connect_failed");
    closeWithReset(std::move(fd));
    return;
  }
  PlainRelay::start(ctx, std::move(fd), std::move(*up), std::move(counters), name);
}

}  // namespace zt
