// The Linux bridge a node-side veth is a port of, read through rtnetlink in the node namespace:
// its name, its own MAC address and the networks of its IPv4 and (if any) IPv6 addresses. The agent
// reads it for ztunnel's veth on every pass (a bridge can be recreated under it), and ambientctl
// reads it to compute the same plan. Touches the kernel.
#pragma once

#include <optional>
#include <string>

#include "common/core/compute_plan.h"

namespace ambient {

// nullopt when `port` has no master. kNotFound when `port` does not exist; kInvalidInput when
// its master is not a bridge, or the bridge has no IPv4 address (its pods have no gateway in the
// node, so nothing can be handed up to the IP layer for them). `port` is the node end of the
// veth whose other end is `peerIfname` in `peerNetns` (ztunnel's pod interface): its MAC is the
// attachment's ztunnelMac (kNotFound when that namespace or interface is gone).
Result<std::optional<BridgeAttachment>> readBridgeAttachment(const std::string& nodeNetns,
                                                             const IfName& port,
                                                             const std::string& peerNetns,
                                                             const IfName& peerIfname);

// The MAC address of interface `ifname` in `netns` (kNotFound when either is gone).
Result<MacAddr> readLinkMac(const std::string& netns, const IfName& ifname);

}  // namespace ambient
