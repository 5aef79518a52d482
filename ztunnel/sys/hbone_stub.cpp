// Milestone-1 placeholder: HBONE is refused until the HBONE client and server land.
#include "ztunnel/sys/hbone_client.h"
#include "ztunnel/sys/listener.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

void startHboneOutbound(WorkerContext& ctx, int clientFd, const SocketAddr&, const OutboundRoute&,
                        std::shared_ptr<TrafficCounters>) {
  ctx.state.metrics.countRejected("outbound", "hbone_unavailable");
  closeWithReset(clientFd);
}

void acceptInboundHbone(WorkerContext& ctx, int fd, const SocketAddr&, const SocketAddr&) {
  ctx.state.metrics.countRejected("inbound_hbone", "hbone_unavailable");
  closeWithReset(fd);
}

}  // namespace zt
