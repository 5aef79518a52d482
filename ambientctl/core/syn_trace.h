// `ambientctl trace`: the numbered hops a TCP SYN takes, in the seed article's style, computed
// from the live kernel state: our nft rules evaluated against the packet (the `ip` table for
// IPv4, the `ip6` table for IPv6), our ip rules of that family, and the kernel's own answer to
// each route lookup (asked through a callback). Pure.
#pragma once

#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/core/compute_plan.h"
#include "common/core/plan.h"
#include "node-agent/core/pod_registry.h"

namespace ambient {

struct RouteAnswer {
  RouteAnswer() = default;
  RouteAnswer(std::string dev, std::optional<IpAddress> via, uint32_t table, bool local)
      : dev(std::move(dev)), via(via), table(table), local(local) {}

  std::string dev;
  std::optional<IpAddress> via;  // the gateway, of the packet's family
  uint32_t table = 0;
  bool local = false;
};

// Asks the kernel of one namespace where a packet goes (like `ip route get DST from SRC iif
// IIF mark MARK`, with `-6` for IPv6). An empty iif means a locally generated packet; an
// unspecified src (0.0.0.0 or ::) a lookup without a source.
class RouteLookup {
 public:
  template <
      std::invocable<NetnsRole, const IpAddress&, const IpAddress&, const std::string&, uint32_t> F>
  RouteLookup(F f) : fn_(std::move(f)) {}  // NOLINT(google-explicit-constructor): as a lambda

  Result<RouteAnswer> operator()(NetnsRole role, const IpAddress& dst, const IpAddress& src,
                                 const std::string& iif, uint32_t mark) const {
    return fn_(role, dst, src, iif, mark);
  }

 private:
  std::function<Result<RouteAnswer>(NetnsRole, const IpAddress&, const IpAddress&,
                                    const std::string&, uint32_t)>
      fn_;
};

struct TraceState {
  NetnsPlan node;     // observed, with nft counters (rule texts from labelRules)
  NetnsPlan ztunnel;  // observed
  PodRegistry registry;
  // Bridge mode: the bridge ztunnel's veth is a port of. Frames from its ports meet the node's
  // bridge table before the IP layer (a pod is on it when the node routes its IP via it).
  std::optional<BridgeAttachment> bridge;
};

// The hops, in order. `src` and `dst` are of one family (else kInvalidInput). A failed route
// lookup is the last hop (with the kernel's answer), not an error: the hops before it still
// show where the packet went. Addresses print as inet_ntop(3) writes them (RFC 5952 for IPv6),
// an IPv6 address with a port as [ADDR]:PORT.
Result<std::vector<std::string>> traceSyn(const TraceState& state, const IpAddress& src,
                                          const IpAddress& dst, uint16_t port,
                                          const RouteLookup& lookup);

}  // namespace ambient
