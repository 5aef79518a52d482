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
  // The network of the bridge's global or unique-local IPv6 address (the pods' IPv6 gateway),
  // nullopt when it has none: the bridge's pods' IPv6 is then not redirected but fails closed.
  std::optional<IpPrefix> subnet6;
  bool operator==(const BridgeAttachment&) const = default;
};

// Where the ztunnel pod is, as seen from the node.
struct ZtunnelEndpoint {
  std::optional<Ipv4> podIp;  // the ztunnel pod's IPv4 address (nullopt on IPv6-only nodes)
  IfName hostVeth;            // the node end of the ztunnel pod's veth
  // The node's address on that link: the ztunnel pod's gateway, and the tunnels' remote in the
  // pod. Its family is the underlay's: the tunnels ride on IPv4 when it is IPv4, on IPv6 when it
  // is IPv6 (IPv6-only nodes); the ztunnel pod needs an address of that family (underlayIp).
  IpAddress nodeAddr;
  IfName podIfname = "eth0";
  uint32_t lowerMtu = 1500;  // MTU of the link the tunnels ride on
  // Set when hostVeth is a bridge port: the node plan is then in bridge mode (docs/DESIGN.md,
  // "Pods on a Linux bridge"). Enrolled pods are then on the same bridge or routed. IPv6 is
  // redirected there when the bridge has an IPv6 network as well (subnet6).
  std::optional<BridgeAttachment> bridge;
  // The ztunnel pod's IPv6 address (dual-stack and IPv6-only nodes): IPv6 is then redirected.
  std::optional<IpAddress> podIp6;

  // The tunnels' remote on the node side: the ztunnel pod's address in nodeAddr's family
  // (nullopt when it has none: the plan refuses such an input).
  std::optional<IpAddress> underlayIp() const;
};

// An enrolled pod has an IPv4 address, an IPv6 address or both.
struct EnrolledPod {
  std::optional<Ipv4> ip;
  IfName hostVeth;               // node end of the pod's veth (its IPv4 rp_filter is turned off)
  std::optional<IpAddress> ip6;  // its IPv6 address (redirected when ZtunnelEndpoint::podIp6)

  // The pod in messages: its IPv4 address, else its IPv6 address.
  std::string label() const;
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
// ztunnel's veth is a port of a bridge with no IPv6 network, or ztunnel's pod has no IPv6
// address. nullopt when IPv6 is redirected or no enrolled pod has an IPv6 address.
std::optional<std::string> ipv6FailClosedReason(const PlanInput& in);
// The same for IPv4: the ztunnel pod has no IPv4 address (an IPv6-only ztunnel) while an
// enrolled pod has one.
std::optional<std::string> ipv4FailClosedReason(const PlanInput& in);

Result<NetnsPlan> computeNodePlan(const PlanInput& in);
Result<NetnsPlan> computeZtunnelPlan(const PlanInput& in);
// The state of a namespace with nothing of ours in it (what uninstall converges to).
NetnsPlan emptyPlan(NetnsRole role);

// How the node plan treats every pod alike.
struct NodeMode {
  bool bridge = false;          // ztunnel's veth is a bridge port: the bridge table has the pod
  bool ipv4Redirected = true;   // enrolled pods' IPv4 is redirected (else fail closed)
  bool ipv6Redirected = false;  // enrolled pods' IPv6 is redirected (else fail closed)
  bool operator==(const NodeMode&) const = default;
};
NodeMode nodeModeOf(const PlanInput& in);

// The node changes that enroll or release one pod, and nothing else: its routes in table 100,
// its set elements (in the bridge table too in bridge mode), and for an IPv4 pod its host
// veth's rp_filter. `vethOriginal` is the recorded original of that sysctl, if any. Equal to
// diff(planAfter, planBefore) when only this pod changed (a tested property), at O(1) instead of
// O(pods). A pod with an address of a family that is fail closed on this node is not such a
// change (the fail-closed table comes and goes with its members): the caller takes a full pass
// (podChangeNeedsFullPass).
ChangeSet computePodChange(const EnrolledPod& pod, bool enroll,
                           const std::optional<std::string>& vethOriginal, const NodeMode& mode);
bool podChangeNeedsFullPass(const EnrolledPod& pod, const NodeMode& mode);

// An IPv6 address the engine can redirect: global or unique-local unicast, not IPv4-mapped,
// not inside the tunnels' /126s. `what` names it in the error (kInvalidInput).
Status checkRedirectableIp6(const IpAddress& ip, const std::string& what);

// The sysctl key of a pod host veth's rp_filter (the one computePodChange needs the original of).
std::string podVethSysctlKey(const IfName& hostVeth);

}  // namespace ambient
