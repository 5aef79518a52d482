// Which pod interfaces the node can redirect. Pure.
#pragma once

#include "common/core/error.h"
#include "node-agent/core/agent_ports.h"

namespace ambient {

// The node captures a pod's traffic at the IP layer, on the node end of the pod's veth. That
// holds for a veth whose node end is a plain interface (a routed primary CNI: ptp, Calico,
// kindnet). It does not hold for:
//  - a pod interface that is no veth (macvlan, ipvlan): its traffic leaves through the node's
//    NIC without crossing the node's IP layer;
//  - a veth whose node end is a bridge port (flannel, k3s, kubenet): same-bridge traffic is
//    bridged and the IP layer sees the bridge, not the port;
//  - a veth in an Open vSwitch datapath or under any other master.
// Each is refused (kInvalidInput) with a message naming the interface and its master, so that a
// pod is never enrolled half-way. `ifname` is the pod's interface, for the message.
Status checkCapturable(const PodLink& link, const IfName& ifname);

}  // namespace ambient
