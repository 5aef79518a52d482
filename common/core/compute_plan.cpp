// computePlan for the node and ztunnel namespaces. Pure.
#include "common/core/compute_plan.h"

#include <algorithm>
#include <set>

#include "common/core/constants.h"
#include "common/core/nft_rules.h"

namespace ambient {
namespace {

IpPrefix prefixOf(std::string_view text) {
  return *IpPrefix::parse(text);
}
IpAddress ipOf(std::string_view text) {
  return *IpAddress::parse(text);
}
IpPrefix hostOf(Ipv4 ip) {
  return IpPrefix::host(IpAddress::fromV4(ip));
}

std::string confKey(std::string_view dev, std::string_view name) {
  return "net/ipv4/conf/" + std::string(dev) + "/" + std::string(name);
}

bool inTunnelNetwork6(const IpAddress& ip) {
  for (auto net : {kInboundNodeAddr6, kOutboundNodeAddr6}) {
    auto p = prefixOf(net);
    // /126: the first 15 bytes and the top 6 bits of the last.
    if (std::equal(ip.bytes().begin(), ip.bytes().begin() + 15, p.addr.bytes().begin()) &&
        (ip.bytes()[15] & 0xfc) == (p.addr.bytes()[15] & 0xfc)) {
      return true;
    }
  }
  return false;
}

Status validate(const PlanInput& in) {
  // The names are valid by type; an empty one (not known) cannot be planned for.
  if (in.ztunnel.hostVeth.empty())
    return fail(ErrorCode::kInvalidInput, "ztunnel host veth is unset");
  if (in.ztunnel.podIfname.empty()) {
    return fail(ErrorCode::kInvalidInput, "ztunnel pod interface is unset");
  }
  if (in.tunnelPort == 0) return fail(ErrorCode::kInvalidInput, "tunnel UDP port 0 is invalid");
  if (in.ztunnel.podIp.value == 0) {
    return fail(ErrorCode::kInvalidInput, "ztunnel pod IP is unset (0.0.0.0)");
  }
  uint32_t mtu = in.tunnelMtu ? in.tunnelMtu : in.ztunnel.lowerMtu - kTunnelOverhead;
  if (in.tunnelMtu == 0 && in.ztunnel.lowerMtu < 68 + kTunnelOverhead) {
    return fail(ErrorCode::kInvalidInput, "lower device MTU " +
                                              std::to_string(in.ztunnel.lowerMtu) +
                                              " leaves no room for the tunnel overhead");
  }
  if (mtu < 68 || mtu > 65535) {
    return fail(ErrorCode::kInvalidInput, "tunnel MTU " + std::to_string(mtu) + " is out of range");
  }
  if (const auto& b = in.ztunnel.bridge) {
    if (b->bridge.empty()) return fail(ErrorCode::kInvalidInput, "ztunnel's bridge name is unset");
    if (b->subnet.len == 0 || b->subnet.len > 30) {
      return fail(ErrorCode::kInvalidInput, "bridge " + b->bridge.str() + " subnet " +
                                                b->subnet.str() + " is no pod network (/1 to /30)");
    }
    uint32_t mask = ~uint32_t{0} << (32 - b->subnet.len);
    if ((in.ztunnel.podIp.value & mask) != (b->subnet.addr.value & mask)) {
      return fail(ErrorCode::kInvalidInput, "ztunnel pod IP " + in.ztunnel.podIp.str() +
                                                " is outside its bridge " + b->bridge.str() +
                                                "'s subnet " + b->subnet.str());
    }
  }
  const auto& zt6 = in.ztunnel.podIp6;
  if (zt6) {
    if (auto s = checkRedirectableIp6(*zt6, "ztunnel pod IPv6 address"); !s) return s;
  }
  std::set<IpAddress> seen6;
  for (const auto& pod : in.pods) {
    if (!pod.ip6) continue;
    const std::string what = "pod " + pod.ip.str() + "'s IPv6 address";
    if (auto s = checkRedirectableIp6(*pod.ip6, what); !s) return s;
    if (zt6 && *pod.ip6 == *zt6) {
      return fail(ErrorCode::kInvalidInput,
                  what + " " + pod.ip6->str() + " is the ztunnel pod's; ztunnel is never enrolled");
    }
    if (!seen6.insert(*pod.ip6).second) {
      return fail(ErrorCode::kInvalidInput, what + " " + pod.ip6->str() + " is enrolled twice");
    }
  }
  std::set<Ipv4> seen;
  for (const auto& pod : in.pods) {
    if (pod.hostVeth.empty()) {
      return fail(ErrorCode::kInvalidInput, "host veth of pod " + pod.ip.str() + " is unset");
    }
    if (pod.ip == in.ztunnel.podIp) {
      return fail(ErrorCode::kInvalidInput,
                  "pod IP " + pod.ip.str() + " is the ztunnel pod's IP; ztunnel is never enrolled");
    }
    if (!seen.insert(pod.ip).second) {
      return fail(ErrorCode::kInvalidInput, "pod IP " + pod.ip.str() + " is enrolled twice");
    }
  }
  return {};
}

uint32_t tunnelMtu(const PlanInput& in) {
  return in.tunnelMtu ? in.tunnelMtu : in.ztunnel.lowerMtu - kTunnelOverhead;
}

RouteSpec podRoute(const EnrolledPod& pod) {
  return RouteSpec{.table = kTableInbound,
                   .dst = hostOf(pod.ip),
                   .via = ipOf(kInboundPodIp),
                   .dev = std::string(kInboundTunnel)};
}

RouteSpec podRoute6(const IpAddress& ip6) {
  return RouteSpec{.table = kTableInbound,
                   .dst = IpPrefix::host(ip6),
                   .via = ipOf(kInboundPodIp6),
                   .dev = std::string(kInboundTunnel)};
}

SysctlSpec podVethSysctl(const EnrolledPod& pod) {
  return {podVethSysctlKey(pod.hostVeth), "0"};
}

// The node device ztunnel's IP is reached on: its veth, or in bridge mode the bridge (a port
// never appears at the IP layer).
std::string ztunnelDevice(const ZtunnelEndpoint& z) {
  return z.bridge ? z.bridge->bridge.str() : z.hostVeth.str();
}

RouteSpec ztunnelHostRoute(uint32_t table, const ZtunnelEndpoint& z) {
  return RouteSpec{
      .table = table, .dst = hostOf(z.podIp), .dev = ztunnelDevice(z), .scope = RouteScope::kLink};
}

// The rules of the node namespace, for `family`: the same priorities, marks and tables in both.
std::vector<RuleSpec> nodeRules(IpAddress::Family family) {
  return {
      {.family = family,
       .priority = kPrioHostSkip,
       .iif = "lo",
       .action = RuleAction::kGoto,
       .gotoTarget = kPrioMainRule},
      {.family = family,
       .priority = kPrioSkip,
       .fwmark = kMarkSkip,
       .fwmask = kMarkSkip,
       .action = RuleAction::kGoto,
       .gotoTarget = kPrioMainRule},
      {.family = family,
       .priority = kPrioOutbound,
       .fwmark = kMarkOutbound,
       .fwmask = kMarkOutbound,
       .table = kTableOutbound},
      {.family = family,
       .priority = kPrioProxyReturn,
       .fwmark = kMarkProxyReturn,
       .fwmask = kMarkProxyReturn,
       .table = kTableProxyReturn},
      {.family = family, .priority = kPrioInbound, .table = kTableInbound},
  };
}

// IPv6 redirected on this node: ztunnel has an IPv6 address, is no bridge port, and the node
// can redirect IPv6.
bool redirectsIpv6(const PlanInput& in) {
  return in.ztunnel.podIp6 && !in.ztunnel.bridge && !in.ipv6Unavailable;
}

std::vector<IpAddress> podIpv6Members(const std::vector<EnrolledPod>& pods) {
  std::vector<IpAddress> members;
  for (const auto& pod : pods) {
    if (pod.ip6) members.push_back(*pod.ip6);
  }
  std::sort(members.begin(), members.end());
  return members;
}

// IPv6 on a dual-stack node: the IPv4 objects' counterparts (docs/DESIGN.md, "IPv6"). No
// sysctl: IPv6 has no rp_filter and no accept_local to turn off.
void addNodeIpv6(NetnsPlan& p, const ZtunnelEndpoint& z, const IpAddress& zt6,
                 const std::vector<EnrolledPod>& pods, uint16_t tunnelPort) {
  p.addresses.push_back({std::string(kInboundTunnel), prefixOf(kInboundNodeAddr6)});
  p.addresses.push_back({std::string(kOutboundTunnel), prefixOf(kOutboundNodeAddr6)});
  std::vector<IpAddress> members = podIpv6Members(pods);
  for (const auto& ip6 : members) p.routes.push_back(podRoute6(ip6));
  auto hostRoute = [&](uint32_t table) {
    return RouteSpec{.table = table, .dst = IpPrefix::host(zt6), .dev = ztunnelDevice(z)};
  };
  p.routes.push_back(hostRoute(kTableInbound));
  p.routes.push_back(RouteSpec{.table = kTableOutbound,
                               .dst = IpPrefix::any(IpAddress::Family::kV6),
                               .via = ipOf(kOutboundPodIp6),
                               .dev = std::string(kOutboundTunnel)});
  p.routes.push_back(hostRoute(kTableOutbound));
  p.routes.push_back(RouteSpec{.table = kTableProxyReturn,
                               .dst = IpPrefix::any(IpAddress::Family::kV6),
                               .via = zt6,
                               .dev = ztunnelDevice(z),
                               .onlink = true});
  p.routes.push_back(hostRoute(kTableProxyReturn));
  auto rules = nodeRules(IpAddress::Family::kV6);
  p.rules.insert(p.rules.end(), rules.begin(), rules.end());
  p.nft6 = nodeNftTable(z, zt6, tunnelPort, std::move(members));
}

}  // namespace

std::optional<std::string> ipv6FailClosedReason(const PlanInput& in) {
  if (redirectsIpv6(in)) return std::nullopt;
  if (std::none_of(in.pods.begin(), in.pods.end(), [](auto& p) { return p.ip6.has_value(); })) {
    return std::nullopt;
  }
  if (in.ipv6Unavailable) return *in.ipv6Unavailable;
  if (in.ztunnel.bridge) {
    return "ztunnel's veth is a port of bridge " + in.ztunnel.bridge->bridge.str() +
           ": IPv6 is redirected on routed nodes only";
  }
  return "the ztunnel pod has no IPv6 address";
}

NodeMode nodeModeOf(const PlanInput& in) {
  return NodeMode{.bridge = in.ztunnel.bridge.has_value(), .ipv6Redirected = redirectsIpv6(in)};
}

Result<TunnelMode> parseTunnelMode(std::string_view text) {
  if (text == "geneve") return TunnelMode::kGeneve;
  if (text == "vxlan") return TunnelMode::kVxlan;
  if (text == "auto") return TunnelMode::kAuto;
  return fail(ErrorCode::kInvalidInput,
              "tunnel mode \"" + std::string(text) + "\" is not one of geneve, vxlan, auto");
}

std::string_view tunnelModeName(TunnelMode mode) {
  switch (mode) {
    case TunnelMode::kGeneve:
      return "geneve";
    case TunnelMode::kVxlan:
      return "vxlan";
    case TunnelMode::kAuto:
      return "auto";
  }
  return "?";
}

Result<NetnsPlan> computeNodePlan(const PlanInput& in) {
  if (auto s = validate(in); !s) return fail(s.error().wrap("node plan"));
  const auto& z = in.ztunnel;
  NetnsPlan p;
  p.role = NetnsRole::kNode;
  uint32_t mtu = tunnelMtu(in);
  p.tunnels = {
      {std::string(kInboundTunnel), in.tunnelKind, kInboundVni, z.podIp, in.tunnelPort, mtu},
      {std::string(kOutboundTunnel), in.tunnelKind, kOutboundVni, z.podIp, in.tunnelPort, mtu},
  };
  p.addresses = {{std::string(kInboundTunnel), prefixOf(kInboundNodeAddr)},
                 {std::string(kOutboundTunnel), prefixOf(kOutboundNodeAddr)}};

  std::vector<EnrolledPod> pods = in.pods;
  std::sort(pods.begin(), pods.end(), [](auto& a, auto& b) { return a.ip < b.ip; });
  for (const auto& pod : pods) p.routes.push_back(podRoute(pod));
  p.routes.push_back(ztunnelHostRoute(kTableInbound, z));
  p.routes.push_back(RouteSpec{.table = kTableOutbound,
                               .dst = IpPrefix::any(IpAddress::Family::kV4),
                               .via = ipOf(kOutboundPodIp),
                               .dev = std::string(kOutboundTunnel)});
  p.routes.push_back(ztunnelHostRoute(kTableOutbound, z));
  p.routes.push_back(RouteSpec{.table = kTableProxyReturn,
                               .dst = IpPrefix::any(IpAddress::Family::kV4),
                               .via = IpAddress::fromV4(z.podIp),
                               .dev = ztunnelDevice(z),
                               .onlink = true});
  p.routes.push_back(ztunnelHostRoute(kTableProxyReturn, z));

  p.rules = nodeRules(IpAddress::Family::kV4);

  // rp_filter: the kernel applies max(conf.all, conf.<dev>), so `all` must be 0 too. In bridge
  // mode the check runs on the bridge. An enrolled pod's own veth keeps its entry on a bridge
  // as well (no effect on a port, restored at release) so that a pod's change is one shape.
  p.sysctls.push_back({confKey("all", "rp_filter"), "0"});
  for (const auto& dev :
       {std::string(kInboundTunnel), std::string(kOutboundTunnel), ztunnelDevice(z)}) {
    p.sysctls.push_back({confKey(dev, "rp_filter"), "0"});
    p.sysctls.push_back({confKey(dev, "accept_local"), "1"});
  }
  for (const auto& pod : pods) p.sysctls.push_back(podVethSysctl(pod));

  std::vector<IpAddress> members;
  for (const auto& pod : pods) members.push_back(IpAddress::fromV4(pod.ip));
  if (z.bridge) p.bridgeNft = nodeBridgeTable(z, *z.bridge, members);
  p.nft = nodeNftTable(z, IpAddress::fromV4(z.podIp), in.tunnelPort, std::move(members));
  if (redirectsIpv6(in)) {
    addNodeIpv6(p, z, *z.podIp6, pods, in.tunnelPort);
  } else if (ipv6FailClosedReason(in)) {
    p.nft6 = nodeFailClosedTable(podIpv6Members(pods));
  }
  return p;
}

Result<NetnsPlan> computeZtunnelPlan(const PlanInput& in) {
  if (auto s = validate(in); !s) return fail(s.error().wrap("ztunnel plan"));
  const auto& z = in.ztunnel;
  NetnsPlan p;
  p.role = NetnsRole::kZtunnel;
  uint32_t mtu = tunnelMtu(in);
  p.tunnels = {
      {std::string(kPodInboundTunnel), in.tunnelKind, kInboundVni, z.nodeAddr, in.tunnelPort, mtu},
      {std::string(kPodOutboundTunnel), in.tunnelKind, kOutboundVni, z.nodeAddr, in.tunnelPort,
       mtu},
  };
  p.addresses = {{std::string(kPodInboundTunnel), prefixOf(kInboundPodAddr)},
                 {std::string(kPodOutboundTunnel), prefixOf(kOutboundPodAddr)}};
  p.routes = {RouteSpec{.table = kPodTableLocal,
                        .type = RouteType::kLocal,
                        .dst = IpPrefix::any(IpAddress::Family::kV4),
                        .dev = "lo",
                        .scope = RouteScope::kHost}};
  p.rules = {
      {.priority = kPodPrioTproxy,
       .fwmark = kMarkTproxy,
       .fwmask = kMarkPodMask,
       .table = kPodTableLocal},
      {.priority = kPodPrioReturn,
       .fwmark = kMarkPodReturn,
       .fwmask = kMarkPodMask,
       .table = kPodTableLocal},
  };
  p.sysctls.push_back({confKey("all", "rp_filter"), "0"});
  for (const auto& dev :
       {std::string(kPodInboundTunnel), std::string(kPodOutboundTunnel), z.podIfname.str()}) {
    p.sysctls.push_back({confKey(dev, "rp_filter"), "0"});
  }
  for (const auto& dev : {std::string(kPodInboundTunnel), std::string(kPodOutboundTunnel)}) {
    p.sysctls.push_back({confKey(dev, "accept_local"), "1"});
  }
  p.nft = ztunnelNftTable(z, IpAddress::fromV4(z.podIp));
  if (redirectsIpv6(in)) {
    const auto v6 = IpAddress::Family::kV6;
    p.addresses.push_back({std::string(kPodInboundTunnel), prefixOf(kInboundPodAddr6)});
    p.addresses.push_back({std::string(kPodOutboundTunnel), prefixOf(kOutboundPodAddr6)});
    p.routes.push_back(RouteSpec{
        .table = kPodTableLocal, .type = RouteType::kLocal, .dst = IpPrefix::any(v6), .dev = "lo"});
    p.rules.push_back({.family = v6,
                       .priority = kPodPrioTproxy,
                       .fwmark = kMarkTproxy,
                       .fwmask = kMarkPodMask,
                       .table = kPodTableLocal});
    p.rules.push_back({.family = v6,
                       .priority = kPodPrioReturn,
                       .fwmark = kMarkPodReturn,
                       .fwmask = kMarkPodMask,
                       .table = kPodTableLocal});
    p.nft6 = ztunnelNftTable(z, *z.podIp6);
  }
  return p;
}

Status checkRedirectableIp6(const IpAddress& ip, const std::string& what) {
  const auto& b = ip.bytes();
  if (!ip.isV6()) return fail(ErrorCode::kInvalidInput, what + " " + ip.str() + " is not IPv6");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
    return fail(ErrorCode::kInvalidInput, what + " " + ip.str() + " is link-local");
  }
  if (b[0] == 0xff) return fail(ErrorCode::kInvalidInput, what + " " + ip.str() + " is multicast");
  if (std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; })) {
    return fail(ErrorCode::kInvalidInput,
                what + " " + ip.str() + " is IPv4-mapped, unspecified or loopback");
  }
  if (inTunnelNetwork6(ip)) {
    return fail(ErrorCode::kInvalidInput, what + " " + ip.str() + " is inside a tunnel network (" +
                                              std::string(kInboundNodeAddr6) + ", " +
                                              std::string(kOutboundNodeAddr6) + ")");
  }
  return {};
}

std::string podVethSysctlKey(const IfName& hostVeth) {
  return confKey(hostVeth.view(), "rp_filter");
}

ChangeSet computePodChange(const EnrolledPod& pod, bool enroll,
                           const std::optional<std::string>& vethOriginal, bool bridgeMode) {
  ChangeSet cs;
  cs.role = NetnsRole::kNode;
  const IpAddress ip = IpAddress::fromV4(pod.ip);
  NftElements element{NftFamily::kIp, std::string(kNftTable), std::string(kNftPodSet), {ip}};
  NftElements bridgeElement{
      NftFamily::kBridge, std::string(kNftBridgeTable), std::string(kNftPodSet), {ip}};
  std::optional<NftElements> element6;
  if (pod.ip6) {
    element6 =
        NftElements{NftFamily::kIp6, std::string(kNftTable), std::string(kNftPodSet), {*pod.ip6}};
  }
  SysctlSpec sysctl = podVethSysctl(pod);
  if (enroll) {
    cs.changes.push_back({ChangeKind::kCreate, podRoute(pod)});
    if (pod.ip6) cs.changes.push_back({ChangeKind::kCreate, podRoute6(*pod.ip6)});
    cs.changes.push_back({vethOriginal ? ChangeKind::kUpdate : ChangeKind::kCreate, sysctl});
    // The bridge first: a frame handed up then finds the IP-layer rules ready for it.
    if (bridgeMode) cs.changes.push_back({ChangeKind::kCreate, bridgeElement});
    cs.changes.push_back({ChangeKind::kCreate, element});
    if (element6) cs.changes.push_back({ChangeKind::kCreate, *element6});
  } else {
    cs.changes.push_back({ChangeKind::kDelete, element});
    if (bridgeMode) cs.changes.push_back({ChangeKind::kDelete, bridgeElement});
    if (element6) cs.changes.push_back({ChangeKind::kDelete, *element6});
    cs.changes.push_back({ChangeKind::kDelete, podRoute(pod)});
    if (pod.ip6) cs.changes.push_back({ChangeKind::kDelete, podRoute6(*pod.ip6)});
    if (vethOriginal)
      cs.changes.push_back({ChangeKind::kDelete, SysctlSpec{sysctl.key, *vethOriginal}});
  }
  return cs;
}

NetnsPlan emptyPlan(NetnsRole role) {
  NetnsPlan p;
  p.role = role;
  return p;
}

}  // namespace ambient
