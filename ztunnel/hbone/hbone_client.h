// Outbound HBONE: carries a redirected client connection as an HTTP/2 CONNECT stream over a
// pooled mutual-TLS connection to the destination (or waypoint) ztunnel. Touches the kernel.
#pragma once

#include <memory>

#include "ztunnel/core/metrics_registry.h"
#include "ztunnel/core/route_plan.h"
#include "ztunnel/sys/proxy_state.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

void startHboneOutbound(WorkerContext& ctx, UniqueFd clientFd, const SocketAddr& client,
                        const OutboundRoute& route, std::shared_ptr<TrafficCounters> counters);

}  // namespace zt
