// Shared inputs for the pure tests: a node with N enrolled pods. Pure.
#pragma once

#include <string>

#include "common/core/compute_plan.h"
#include "tests/support/typed_values.h"

namespace ambient::testing {

inline PlanInput nodeWithPods(int count) {
  PlanInput in;
  in.tunnelKind = TunnelKind::kGeneve;
  in.tunnelPort = 6081;
  in.ztunnel =
      ZtunnelEndpoint{*Ipv4::parse("10.244.1.3"), "vethzt0", IpAddress("10.244.1.1"), "eth0", 1500};
  for (int i = 0; i < count; ++i) {
    in.pods.push_back(EnrolledPod{Ipv4{(10u << 24) + (244u << 16) + (1u << 8) + uint32_t(10 + i)},
                                  ifOf("vethpod" + std::to_string(i))});
  }
  return in;
}

// The same node dual-stack: ztunnel and every pod with an IPv6 address as well
// (fd00:10:244:1::<n>, the IPv4 address's last byte).
inline PlanInput dualStack(PlanInput in) {
  in.ztunnel.podIp6 = IpAddress("fd00:10:244:1::3");
  for (auto& pod : in.pods) {
    auto bytes = IpAddress("fd00:10:244:1::").bytes();
    bytes[15] = uint8_t(pod.ip->value & 0xff);
    pod.ip6 = IpAddress::fromBytes(IpAddress::Family::kV6, bytes.data());
  }
  return in;
}

// The same node IPv6-only: ztunnel and every pod with an IPv6 address alone
// (fd00:10:244:1::<n>, the IPv4 address's last byte), ztunnel's gateway fd00:10:244:1::1 (as
// the ptp plugin puts it on the host veth): the tunnels ride on IPv6.
inline PlanInput ipv6Only(PlanInput in) {
  in = dualStack(std::move(in));
  in.ztunnel.podIp.reset();
  in.ztunnel.nodeAddr = IpAddress("fd00:10:244:1::1");
  for (auto& pod : in.pods) pod.ip.reset();
  return in;
}

// The same node with ztunnel's veth a port of bridge cni0 (flannel-like), pods on it too.
inline PlanInput onBridge(PlanInput in) {
  in.ztunnel.bridge =
      BridgeAttachment{"cni0", *MacAddr::parse("02:42:0a:f4:01:01"),
                       *Ipv4Prefix::parse("10.244.1.0/24"), *MacAddr::parse("0a:58:0a:f4:01:03")};
  return in;
}

// The dual-stack node on bridge cni0 with an IPv6 network too (fd00:10:244:1::1/64, as flannel
// gives a dual-stack bridge): IPv6 is redirected like IPv4.
inline PlanInput onDualStackBridge(PlanInput in) {
  in = onBridge(dualStack(std::move(in)));
  in.ztunnel.bridge->subnet6 = *IpPrefix::parse("fd00:10:244:1::/64");
  return in;
}

}  // namespace ambient::testing
