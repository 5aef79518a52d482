// The nftables tables we own: the node's mark logic (docs/DESIGN.md section 3), its bridge-mode
// table, and the ztunnel pod's TPROXY rules (section 4), as data. Pure.
#pragma once

#include <cstdint>
#include <vector>

#include "common/core/compute_plan.h"
#include "common/core/nft_spec.h"

namespace ambient {

NftTableSpec nodeNftTable(const ZtunnelEndpoint& ztunnel, uint16_t tunnelPort,
                          std::vector<Ipv4> enrolledPods);
// Bridge mode: the node's family-bridge table, which marks ztunnel's frames and hands enrolled
// pods' TCP up to the IP layer instead of bridging it.
NftTableSpec nodeBridgeTable(const ZtunnelEndpoint& ztunnel, const BridgeAttachment& bridge,
                             std::vector<Ipv4> enrolledPods);
NftTableSpec ztunnelNftTable(const ZtunnelEndpoint& ztunnel);

}  // namespace ambient
