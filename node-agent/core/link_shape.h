// Which pod interfaces the node can redirect. Pure.
#pragma once

#include <optional>

#include "common/core/error.h"
#include "node-agent/core/agent_ports.h"

namespace ambient {

// The node captures a pod's traffic at the IP layer, on the node end of the pod's veth. That
// holds for a veth whose node end is a plain interface (a routed primary CNI: ptp, Calico,
// kindnet), and for a veth that is a port of the bridge ztunnel's veth is a port of
// (`ztunnelBridge`, bridge mode: flannel, k3s, kubenet), whose table hands the pod's TCP up to
// the IP layer. It does not hold for:
//  - a pod interface that is no veth (macvlan, ipvlan): its traffic leaves through the node's
//    NIC without crossing the node's IP layer;
//  - a veth on any other bridge: same-bridge traffic is bridged there, unseen;
//  - a veth in an Open vSwitch datapath or under any other master.
// Each is refused (kInvalidInput) with a message naming the interface and its master, so that a
// pod is never enrolled half-way. `ifname` is the pod's interface, for the message.
Status checkCapturable(const PodLink& link, const IfName& ifname,
                       const std::optional<IfName>& ztunnelBridge);

// On ztunnel's bridge (`ztunnelBridge`, bridge mode), a pod whose MAC is ztunnel's or the
// bridge's own cannot be served: the bridge cannot deliver to two ports with one address (the
// node drops frames with ztunnel's MAC from other ports, so ztunnel keeps its traffic), and a
// frame to the bridge's own MAC never leaves the bridge. Refused (kInvalidInput) naming the MAC.
// A pod elsewhere, or whose MAC is not known, passes.
Status checkMacOnBridge(const PodLink& link, const std::optional<BridgeAttachment>& ztunnelBridge);

// The same for ztunnel's own pod, which may sit on any bridge: that bridge is then the one
// captured (bridge mode).
Status checkZtunnelLink(const PodLink& link, const IfName& ifname);

}  // namespace ambient
