// Re-checks open inbound connections against the current view (see inbound_recheck.h).
#include "ztunnel/sys/inbound_recheck.h"

#include <utility>
#include <vector>

#include "ztunnel/sys/denial_log.h"

namespace zt {

size_t recheckInboundConnections(WorkerContext& ctx) {
  auto view = ctx.state.snapshot();
  if (view->policies.empty()) return 0;  // nothing can deny
  std::vector<std::pair<PolicyClosable*, InboundAuthzVerdict>> denied;
  for (const auto& [conn, f] : ctx.inbound.open()) {
    const Workload* destination = view->findWorkloadByIp(f.destination.ip);
    InboundAuthzVerdict v = computeInboundAuthz(*view, destination, f.peerIdentity, f.source.ip,
                                                f.destination.ip, f.destination.port, f.plaintext);
    if (!v.allowed) denied.emplace_back(conn, std::move(v));
  }
  size_t closed = 0;
  for (auto& [conn, v] : denied) {
    // Closing one stream may end its HBONE connection and with it others of the list.
    const InboundFacts* f = ctx.inbound.find(conn);
    if (f == nullptr) continue;
    recordDenial(ctx.state, f->listener, v, f->source.toString(), f->destination.toString(),
                 DenialTrigger::kPolicyUpdate);
    conn->closeDeniedByPolicy();  // unregisters it
    ++closed;
  }
  return closed;
}

}  // namespace zt
