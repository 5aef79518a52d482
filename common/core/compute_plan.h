// computePlan: "these pods are enrolled, ztunnel is here" -> the desired kernel state of the
// node namespace and of the ztunnel pod namespace (docs/DESIGN.md sections 3-4). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/constants.h"
#include "common/core/diff.h"
#include "common/core/error.h"
#include "common/core/if_name.h"
#include "common/core/mac_addr.h"
#include "common/core/plan.h"

namespace ambient {

enum class TunnelMode { kGeneve, kVxlan, kAuto };
Result<TunnelMode> parseTunnelMode(std::string_view text);
std::string_view tunnelModeName(TunnelMode mode);

// The Linux bridge whose port ztunnel's host veth is (bridge-based primary CNIs: flannel, k3s,
// kubenet). Read from the kernel on each pass: a bridge can be recreated under the agent.
struct BridgeAttachment {
  IfName bridge;      // "cni0"
  MacAddr mac;        // the bridge's own address: frames handed up to the IP layer get it
  Ipv4Prefix subnet;  // the network of the bridge's IPv4 address (the pods' gateway)
  // ztunnel's own MAC on the bridge (its pod interface's). Frames with it as source from any
  // other port are dropped before the bridge learns from them, so that a pod with the same MAC
  // cannot draw ztunnel's traffic to its port. nullopt: not known, no such rule.
  std::optional<MacAddr> ztunnelMac;
  bool operator==(const BridgeAttachment&) const = default;
};

// Where the ztunnel pod is, as seen from the node.
struct ZtunnelEndpoint {
  Ipv4 podIp;       // the ztunnel pod's IP (tunnel remote on the node side)
  IfName hostVeth;  // the node end of the ztunnel pod's veth
  Ipv4 nodeAddr;    // the node's address on that link (tunnel remote in the pod)
  IfName podIfname = "eth0";
  uint32_t lowerMtu = 1500;  // MTU of the link the tunnels ride on
  // Set when hostVeth is a bridge port: the node plan is then in bridge mode (docs/DESIGN.md,
  // "Pods on a Linux bridge"). Enrolled pods are then on the same bridge or routed.
  std::optional<BridgeAttachment> bridge;
  // The ztunnel pod's IPv6 address on a dual-stack node: IPv6 is then redirected as well.
  std::optional<IpAddress> podIp6;
};

struct EnrolledPod {
  Ipv4 ip;
  IfName hostVeth;               // node end of the pod's veth (its rp_filter is turned off)
  std::optional<IpAddress> ip6;  // its IPv6 address (dual-stack; needs ZtunnelEndpoint::podIp6)
};

struct PlanInput {
  TunnelKind tunnelKind = TunnelKind::kGeneve;  // resolved: auto is decided by the kernel probe
  uint16_t tunnelPort = kDefaultTunnelPort;
  uint32_t tunnelMtu = 0;  // 0: lowerMtu minus the encapsulation overhead
  ZtunnelEndpoint ztunnel;
  std::vector<EnrolledPod> pods;
  // Why this node cannot redirect IPv6 at all (the kernel probe at start, or --ipv6=off);
  // nullopt: it can. The enrolled pods' IPv6 TCP is then dropped (ipv6FailClosedReason).
  std::optional<std::string> ipv6Unavailable;
};

// Why the enrolled pods' IPv6 is not redirected but its TCP dropped in both directions (fail
// closed: enrolling IPv4 alone would let IPv6 bypass ztunnel): this node cannot redirect IPv6,
// ztunnel's veth is a bridge port (bridge mode redirects IPv4 only), or ztunnel's pod has no
// IPv6 address. nullopt when IPv6 is redirected or no enrolled pod has an IPv6 address.
std::optional<std::string> ipv6FailClosedReason(const PlanInput& in);

Result<NetnsPlan> computeNodePlan(const PlanInput& in);
Result<NetnsPlan> computeZtunnelPlan(const PlanInput& in);
// The state of a namespace with nothing of ours in it (what uninstall converges to).
NetnsPlan emptyPlan(NetnsRole role);

// How the node plan treats every pod alike.
struct NodeMode {
  bool bridge = false;          // ztunnel's veth is a bridge port: the bridge table has the pod
  bool ipv6Redirected = false;  // enrolled pods' IPv6 is redirected (else fail closed)
  bool operator==(const NodeMode&) const = default;
};
NodeMode nodeModeOf(const PlanInput& in);

// The node changes that enroll or release one pod, and nothing else: its routes in table 100,
// its set elements (in the bridge table too when `bridgeMode`: ztunnel is on a bridge), its
// host veth's rp_filter. `vethOriginal` is the recorded original of that sysctl, if any. Equal
// to diff(planAfter, planBefore) when only this pod changed (a tested property), at O(1)
// instead of O(pods). A pod with IPv6 on a node whose IPv6 is fail closed is not such a change
// (the fail-closed table comes and goes with its members): the caller takes a full pass.
ChangeSet computePodChange(const EnrolledPod& pod, bool enroll,
                           const std::optional<std::string>& vethOriginal, bool bridgeMode);

// An IPv6 address the engine can redirect: global or unique-local unicast, not IPv4-mapped,
// not inside the tunnels' /126s. `what` names it in the error (kInvalidInput).
Status checkRedirectableIp6(const IpAddress& ip, const std::string& what);

// The sysctl key of a pod host veth's rp_filter (the one computePodChange needs the original of).
std::string podVethSysctlKey(const IfName& hostVeth);

}  // namespace ambient
