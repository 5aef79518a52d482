// 15001: route a redirected client connection (VIP balancing, HBONE or plain TCP) and start it.
// Touches the kernel.
#include <unistd.h>

#include "common/log/log.h"
#include "ztunnel/core/route_plan.h"
#include "ztunnel/hbone/hbone_client.h"
#include "ztunnel/proxy/listener.h"
#include "ztunnel/sys/denial_log.h"
#include "ztunnel/sys/plain_relay.h"
#include "ztunnel/sys/socket_ops.h"
#include "ztunnel/sys/traffic_labels.h"

namespace zt {
namespace {

// Counts the refusal under `listener` and `reason` and resets the client's connection.
void refuse(WorkerContext& ctx, UniqueFd fd, const char* listener, const char* reason) {
  ctx.state.metrics.countRejected(listener, reason);
  closeWithReset(std::move(fd));
}

// Connects upstream from the client's address (when it can be kept) and relays; refuses the
// client when the upstream cannot be reached.
void relayPlain(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer, const SocketAddr& to,
                std::shared_ptr<TrafficCounters> counters, const char* listener, const char* what,
                const InboundFacts* inbound = nullptr) {
  auto up = connectFrom(to, originalSourceFor(ctx.state.opts, peer.ip, to.ip), ctx.state.opts.mark);
  if (!up) {
    ambient::logLine(ambient::LogLevel::kDebug, what, {{"error", up.error().message()}});
    refuse(ctx, std::move(fd), listener, "upstream_connect_failed");
    return;
  }
  PlainRelay::start(ctx, std::move(fd), std::move(*up), std::move(counters), listener, inbound);
}

}  // namespace

void acceptOutbound(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer,
                    const SocketAddr& dst) {
  const char* name = listenerName(ListenerKind::kOutbound);
  if (isOwnListener(ctx.state.opts, dst)) return refuse(ctx, std::move(fd), name, "loop");
  auto view = ctx.state.snapshot();
  OutboundRoute route =
      computeOutboundRoute(*view, peer, dst, ctx.rng(), ctx.state.opts.peerHbonePort);
  if (route.kind == RouteKind::kReject) {
    ambient::logLine(ambient::LogLevel::kDebug, "outbound refused",
                     {{"src", peer.toString()}, {"dst", dst.toString()}, {"reason", route.reason}});
    return refuse(ctx, std::move(fd), name, "no_route");
  }
  bool hbone = route.kind == RouteKind::kHbone;
  auto counters = ctx.state.metrics.traffic(
      makeTrafficLabels("source", route.source, route.destination, route.service, hbone));
  if (hbone) {
    startHboneOutbound(ctx, std::move(fd), peer, route, std::move(counters));
    return;
  }
  relayPlain(ctx, std::move(fd), peer, route.connectTo, std::move(counters), name,
             "outbound connect failed");
}

void acceptInboundPlain(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer,
                        const SocketAddr& dst) {
  const char* name = listenerName(ListenerKind::kInboundPlain);
  if (isOwnListener(ctx.state.opts, dst)) return refuse(ctx, std::move(fd), name, "loop");
  auto view = ctx.state.snapshot();
  const Workload* destination = view->findWorkloadByIp(dst.ip);
  // No peer identity: a STRICT PeerAuthentication refuses, then AuthorizationPolicies decide.
  InboundAuthzVerdict authz =
      computeInboundAuthz(*view, destination, {}, peer.ip, dst.ip, dst.port, true);
  if (!authz.auditHits.empty()) recordAudit(name, authz, peer.toString(), dst.toString());
  if (!authz.allowed) {
    recordDenial(ctx.state, name, authz, peer.toString(), dst.toString());
    closeWithReset(std::move(fd));
    return;
  }
  auto counters = ctx.state.metrics.traffic(makeTrafficLabels(
      "destination", view->findWorkloadByIp(peer.ip), destination, nullptr, false));
  InboundFacts facts{name, {}, peer, dst, true};
  relayPlain(ctx, std::move(fd), peer, dst, std::move(counters), name, "inbound connect failed",
             &facts);
}

}  // namespace zt
