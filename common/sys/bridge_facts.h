// The Linux bridge a node-side veth is a port of, read through rtnetlink in the node namespace:
// its name, its own MAC address and the network of its IPv4 address. The agent reads it for
// ztunnel's veth on every pass (a bridge can be recreated under it), and ambientctl reads it to
// compute the same plan. Touches the kernel.
#pragma once

#include <optional>
#include <string>

#include "common/core/compute_plan.h"

namespace ambient {

// nullopt when `port` has no master. kNotFound when `port` does not exist; kInvalidInput when
// its master is not a bridge, or the bridge has no IPv4 address (its pods have no gateway in the
// node, so nothing can be handed up to the IP layer for them).
Result<std::optional<BridgeAttachment>> readBridgeAttachment(const std::string& nodeNetns,
                                                             const IfName& port);

}  // namespace ambient
