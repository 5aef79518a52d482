// `ambientctl trace`: the numbered hops a TCP SYN takes, in the seed article's style, computed
// from the live kernel state: our nft rules evaluated against the packet, our ip rules, and the
// kernel's own answer to each route lookup (asked through a callback). Pure.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/core/compute_plan.h"
#include "common/core/plan.h"
#include "node-agent/core/pod_registry.h"

namespace ambient {

struct RouteAnswer {
  std::string dev;
  std::optional<Ipv4> via;
  uint32_t table = 0;
  bool local = false;
};

// Asks the kernel of one namespace where a packet goes (like `ip route get DST from SRC iif
// IIF mark MARK`). An empty iif means a locally generated packet.
using RouteLookup = std::function<Result<RouteAnswer>(NetnsRole role, Ipv4 dst, Ipv4 src,
                                                      const std::string& iif, uint32_t mark)>;

struct TraceState {
  NetnsPlan node;     // observed, with nft counters (rule texts from labelRules)
  NetnsPlan ztunnel;  // observed
  PodRegistry registry;
  // Bridge mode: the bridge ztunnel's veth is a port of. Frames from its ports meet the node's
  // bridge table before the IP layer (a pod is on it when the node routes its IP via it).
  std::optional<BridgeAttachment> bridge;
};

// The hops, in order. A failed route lookup is the last hop (with the kernel's answer), not an
// error: the hops before it still show where the packet went.
Result<std::vector<std::string>> traceSyn(const TraceState& state, Ipv4 src, Ipv4 dst,
                                          uint16_t port, const RouteLookup& lookup);

}  // namespace ambient
