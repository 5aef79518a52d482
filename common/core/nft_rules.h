// The nftables tables we own: the node's mark logic (docs/DESIGN.md section 3), its bridge-mode
// table, and the ztunnel pod's TPROXY rules (section 4), as data. Pure.
#pragma once

#include <cstdint>
#include <vector>

#include "common/core/compute_plan.h"
#include "common/core/nft_spec.h"

namespace ambient {

// The node's table of one family, `ip` or `ip6`: the family of `ztunnelIp`, ztunnel's pod
// address of that family; `enrolledPods` are the enrolled pods' addresses of that family.
NftTableSpec nodeNftTable(const ZtunnelEndpoint& ztunnel, const IpAddress& ztunnelIp,
                          uint16_t tunnelPort, std::vector<IpAddress> enrolledPods);
// Bridge mode: the node's family-bridge table, which marks ztunnel's frames and hands enrolled
// pods' TCP up to the IP layer instead of bridging it: IPv4, and IPv6 alike when `redirect6`
// (ztunnel's pod and the bridge have IPv6 and the node redirects it). Otherwise the TCP of
// `enrolledPods6` (the enrolled pods' IPv6 addresses) is dropped here, so that two pods of the
// bridge cannot exchange it at layer 2 (the ip6 fail-closed table sees only what goes up).
NftTableSpec nodeBridgeTable(const ZtunnelEndpoint& ztunnel, const BridgeAttachment& bridge,
                             std::vector<IpAddress> enrolledPods,
                             std::vector<IpAddress> enrolledPods6 = {}, bool redirect6 = false);
// The node's table of a family it cannot redirect while enrolled pods have addresses of it
// (ipv4FailClosedReason, ipv6FailClosedReason): their TCP in either direction is dropped.
NftTableSpec nodeFailClosedTable(IpAddress::Family family, std::vector<IpAddress> enrolledPods);
// The ztunnel pod's TPROXY table of the family of `ztunnelIp` (its own address of that family).
NftTableSpec ztunnelNftTable(const ZtunnelEndpoint& ztunnel, const IpAddress& ztunnelIp);

}  // namespace ambient
