// computePlan for the node and ztunnel namespaces. Pure.
#include "common/core/compute_plan.h"

#include <algorithm>
#include <set>
#include <tuple>

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
  return prefixOf(kInboundNodeAddr6).contains(ip) || prefixOf(kOutboundNodeAddr6).contains(ip);
}

uint32_t overheadOf(const ZtunnelEndpoint& z) {
  return z.nodeAddr.isV6() ? kTunnelOverhead6 : kTunnelOverhead;
}

// The tunnels' MTU: the explicit one, else the lower device's minus the encapsulation (checked
// by validateZtunnel to leave at least 68).
uint32_t tunnelMtu(const PlanInput& in) {
  return in.tunnelMtu ? in.tunnelMtu : in.ztunnel.lowerMtu - overheadOf(in.ztunnel);
}

Status validateZtunnel(const PlanInput& in) {
  const auto& z = in.ztunnel;
  // The names are valid by type; an empty one (not known) cannot be planned for.
  if (z.hostVeth.empty()) return fail(ErrorCode::kInvalidInput, "ztunnel host veth is unset");
  if (z.podIfname.empty()) return fail(ErrorCode::kInvalidInput, "ztunnel pod interface is unset");
  if (in.tunnelPort == 0) return fail(ErrorCode::kInvalidInput, "tunnel UDP port 0 is invalid");
  if (z.podIp && z.podIp->value == 0) {
    return fail(ErrorCode::kInvalidInput, "ztunnel pod IP is unset (0.0.0.0)");
  }
  if (!z.podIp && !z.podIp6) return fail(ErrorCode::kInvalidInput, "ztunnel pod has no address");
  if (z.podIp6) {
    if (auto s = checkRedirectableIp6(*z.podIp6, "ztunnel pod IPv6 address"); !s) return s;
  }
  // The underlay: the tunnels ride on nodeAddr's family, between it and ztunnel's own address
  // of that family.
  if (!z.underlayIp()) {
    return fail(ErrorCode::kInvalidInput,
                "ztunnel's gateway " + z.nodeAddr.str() + " is " +
                    (z.nodeAddr.isV4() ? "IPv4" : "IPv6") +
                    " but the ztunnel pod has no address of that family for the tunnels");
  }
  if (z.nodeAddr.isV6()) {
    if (auto s = checkRedirectableIp6(z.nodeAddr, "ztunnel's IPv6 gateway (the tunnels' remote)");
        !s) {
      return s;
    }
  } else if (z.nodeAddr.v4()->value == 0) {
    return fail(ErrorCode::kInvalidInput, "ztunnel's gateway is unset (0.0.0.0)");
  }
  if (in.tunnelMtu == 0 && z.lowerMtu < 68 + overheadOf(z)) {
    return fail(ErrorCode::kInvalidInput, "lower device MTU " + std::to_string(z.lowerMtu) +
                                              " leaves no room for the tunnel overhead");
  }
  if (const uint32_t mtu = tunnelMtu(in); mtu < 68 || mtu > 65535) {
    return fail(ErrorCode::kInvalidInput, "tunnel MTU " + std::to_string(mtu) + " is out of range");
  }
  if (const auto& b = z.bridge) {
    if (b->bridge.empty()) return fail(ErrorCode::kInvalidInput, "ztunnel's bridge name is unset");
    if (!z.podIp) {
      return fail(ErrorCode::kInvalidInput, "ztunnel's veth is a port of bridge " +
                                                b->bridge.str() +
                                                " and the ztunnel pod has no IPv4 address: "
                                                "bridge mode needs IPv4 (IPv6-only nodes are "
                                                "supported on routed CNIs only)");
    }
    if (b->subnet.len == 0 || b->subnet.len > 30) {
      return fail(ErrorCode::kInvalidInput, "bridge " + b->bridge.str() + " subnet " +
                                                b->subnet.str() + " is no pod network (/1 to /30)");
    }
    if (!IpPrefix::fromV4(b->subnet).contains(IpAddress::fromV4(*z.podIp))) {
      return fail(ErrorCode::kInvalidInput, "ztunnel pod IP " + z.podIp->str() +
                                                " is outside its bridge " + b->bridge.str() +
                                                "'s subnet " + b->subnet.str());
    }
    if (const auto& net6 = b->subnet6) {
      if (!net6->addr.isV6() || net6->len == 0 || net6->len > 126) {
        return fail(ErrorCode::kInvalidInput, "bridge " + b->bridge.str() + " IPv6 subnet " +
                                                  net6->str() + " is no pod network (/1 to /126)");
      }
      if (z.podIp6 && !net6->contains(*z.podIp6)) {
        return fail(ErrorCode::kInvalidInput, "ztunnel pod IPv6 address " + z.podIp6->str() +
                                                  " is outside its bridge " + b->bridge.str() +
                                                  "'s IPv6 subnet " + net6->str());
      }
    }
  }
  return {};
}

Status validate(const PlanInput& in) {
  if (auto s = validateZtunnel(in); !s) return s;
  const auto& z = in.ztunnel;
  std::set<IpAddress> seen6;
  std::set<Ipv4> seen;
  for (const auto& pod : in.pods) {
    if (!pod.ip && !pod.ip6) {
      return fail(ErrorCode::kInvalidInput,
                  "pod on host veth " + pod.hostVeth.str() + " has no address to redirect");
    }
    if (pod.hostVeth.empty()) {
      return fail(ErrorCode::kInvalidInput, "host veth of pod " + pod.label() + " is unset");
    }
    if (pod.ip6) {
      const std::string what = "pod " + pod.label() + "'s IPv6 address";
      if (auto s = checkRedirectableIp6(*pod.ip6, what); !s) return s;
      if (z.podIp6 && *pod.ip6 == *z.podIp6) {
        return fail(
            ErrorCode::kInvalidInput,
            what + " " + pod.ip6->str() + " is the ztunnel pod's; ztunnel is never enrolled");
      }
      if (!seen6.insert(*pod.ip6).second) {
        return fail(ErrorCode::kInvalidInput, what + " " + pod.ip6->str() + " is enrolled twice");
      }
    }
    if (pod.ip) {
      if (pod.ip == z.podIp) {
        return fail(
            ErrorCode::kInvalidInput,
            "pod IP " + pod.ip->str() + " is the ztunnel pod's IP; ztunnel is never enrolled");
      }
      if (!seen.insert(*pod.ip).second) {
        return fail(ErrorCode::kInvalidInput, "pod IP " + pod.ip->str() + " is enrolled twice");
      }
    }
  }
  return {};
}

RouteSpec podRoute(Ipv4 ip) {
  return RouteSpec{.table = kTableInbound,
                   .dst = hostOf(ip),
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

RouteSpec ztunnelHostRoute(uint32_t table, const ZtunnelEndpoint& z, Ipv4 ztIp) {
  return RouteSpec{
      .table = table, .dst = hostOf(ztIp), .dev = ztunnelDevice(z), .scope = RouteScope::kLink};
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

// IPv6 redirected on this node: ztunnel has an IPv6 address, is no bridge port or a port of a
// bridge with an IPv6 network, and the node can redirect IPv6.
bool redirectsIpv6(const PlanInput& in) {
  const auto& bridge = in.ztunnel.bridge;
  return in.ztunnel.podIp6 && (!bridge || bridge->subnet6) && !in.ipv6Unavailable;
}

// IPv4 redirected on this node: ztunnel has an IPv4 address.
bool redirectsIpv4(const PlanInput& in) {
  return in.ztunnel.podIp.has_value();
}

// The enrolled pods' addresses of `family`, sorted.
std::vector<IpAddress> podMembers(const std::vector<EnrolledPod>& pods, IpAddress::Family family) {
  std::vector<IpAddress> members;
  for (const auto& pod : pods) {
    if (family == IpAddress::Family::kV4 && pod.ip) members.push_back(IpAddress::fromV4(*pod.ip));
    if (family == IpAddress::Family::kV6 && pod.ip6) members.push_back(*pod.ip6);
  }
  std::sort(members.begin(), members.end());
  return members;
}

// IPv4 redirection on a node whose ztunnel has an IPv4 address (docs/DESIGN.md sections 3-4).
void addNodeIpv4(NetnsPlan& p, const PlanInput& in, Ipv4 ztIp,
                 const std::vector<EnrolledPod>& pods) {
  const auto& z = in.ztunnel;
  for (const auto& pod : pods) {
    if (pod.ip) p.routes.push_back(podRoute(*pod.ip));
  }
  p.routes.push_back(ztunnelHostRoute(kTableInbound, z, ztIp));
  p.routes.push_back(RouteSpec{.table = kTableOutbound,
                               .dst = IpPrefix::any(IpAddress::Family::kV4),
                               .via = ipOf(kOutboundPodIp),
                               .dev = std::string(kOutboundTunnel)});
  p.routes.push_back(ztunnelHostRoute(kTableOutbound, z, ztIp));
  p.routes.push_back(RouteSpec{.table = kTableProxyReturn,
                               .dst = IpPrefix::any(IpAddress::Family::kV4),
                               .via = IpAddress::fromV4(ztIp),
                               .dev = ztunnelDevice(z),
                               .onlink = true});
  p.routes.push_back(ztunnelHostRoute(kTableProxyReturn, z, ztIp));

  auto rules = nodeRules(IpAddress::Family::kV4);
  p.rules.insert(p.rules.end(), rules.begin(), rules.end());

  // rp_filter: the kernel applies max(conf.all, conf.<dev>), so `all` must be 0 too. In bridge
  // mode the check runs on the bridge. An enrolled pod's own veth keeps its entry on a bridge
  // as well (no effect on a port, restored at release) so that a pod's change is one shape.
  p.sysctls.push_back({confKey("all", "rp_filter"), "0"});
  for (const auto& dev :
       {std::string(kInboundTunnel), std::string(kOutboundTunnel), ztunnelDevice(z)}) {
    p.sysctls.push_back({confKey(dev, "rp_filter"), "0"});
    p.sysctls.push_back({confKey(dev, "accept_local"), "1"});
  }
  for (const auto& pod : pods) {
    if (pod.ip) p.sysctls.push_back(podVethSysctl(pod));
  }

  std::vector<IpAddress> members = podMembers(pods, IpAddress::Family::kV4);
  // In bridge mode the bridge hands IPv6 up like IPv4, or drops the enrolled pods' IPv6 TCP
  // when IPv6 fails closed.
  if (z.bridge) {
    p.bridgeNft = nodeBridgeTable(z, *z.bridge, members, podMembers(pods, IpAddress::Family::kV6),
                                  redirectsIpv6(in));
  }
  p.nft = nodeNftTable(z, IpAddress::fromV4(ztIp), in.tunnelPort, std::move(members));
}

// IPv6 on a dual-stack node: the IPv4 objects' counterparts (docs/DESIGN.md, "IPv6"). No
// sysctl: IPv6 has no rp_filter and no accept_local to turn off.
void addNodeIpv6(NetnsPlan& p, const ZtunnelEndpoint& z, const IpAddress& zt6,
                 const std::vector<EnrolledPod>& pods, uint16_t tunnelPort) {
  p.addresses.push_back({std::string(kInboundTunnel), prefixOf(kInboundNodeAddr6)});
  p.addresses.push_back({std::string(kOutboundTunnel), prefixOf(kOutboundNodeAddr6)});
  std::vector<IpAddress> members = podMembers(pods, IpAddress::Family::kV6);
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
  if (in.ztunnel.bridge && !in.ztunnel.bridge->subnet6) {
    return "ztunnel's veth is a port of bridge " + in.ztunnel.bridge->bridge.str() +
           ", which has no IPv6 address: its pods have no IPv6 gateway in the node to hand "
           "their IPv6 up to";
  }
  return "the ztunnel pod has no IPv6 address";
}

std::optional<std::string> ipv4FailClosedReason(const PlanInput& in) {
  if (redirectsIpv4(in)) return std::nullopt;
  if (std::none_of(in.pods.begin(), in.pods.end(), [](auto& p) { return p.ip.has_value(); })) {
    return std::nullopt;
  }
  return "the ztunnel pod has no IPv4 address";
}

NodeMode nodeModeOf(const PlanInput& in) {
  return NodeMode{.bridge = in.ztunnel.bridge.has_value(),
                  .ipv4Redirected = redirectsIpv4(in),
                  .ipv6Redirected = redirectsIpv6(in)};
}

std::optional<IpAddress> ZtunnelEndpoint::underlayIp() const {
  if (nodeAddr.isV4()) {
    if (podIp) return IpAddress::fromV4(*podIp);
    return std::nullopt;
  }
  return podIp6;
}

std::string EnrolledPod::label() const {
  if (ip) return ip->str();
  return ip6 ? ip6->str() : "(no address)";
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
  const IpAddress remote = *z.underlayIp();
  p.tunnels = {
      {std::string(kInboundTunnel), in.tunnelKind, kInboundVni, remote, in.tunnelPort, mtu},
      {std::string(kOutboundTunnel), in.tunnelKind, kOutboundVni, remote, in.tunnelPort, mtu},
  };
  // The tunnels' inner IPv4 network stays on an IPv6-only node: the devices are the same.
  p.addresses = {{std::string(kInboundTunnel), prefixOf(kInboundNodeAddr)},
                 {std::string(kOutboundTunnel), prefixOf(kOutboundNodeAddr)}};

  std::vector<EnrolledPod> pods = in.pods;
  std::sort(pods.begin(), pods.end(),
            [](auto& a, auto& b) { return std::tie(a.ip, a.ip6) < std::tie(b.ip, b.ip6); });
  if (z.podIp) {
    addNodeIpv4(p, in, *z.podIp, pods);
  } else if (ipv4FailClosedReason(in)) {
    p.nft = nodeFailClosedTable(IpAddress::Family::kV4, podMembers(pods, IpAddress::Family::kV4));
  }
  if (redirectsIpv6(in)) {
    addNodeIpv6(p, z, *z.podIp6, pods, in.tunnelPort);
  } else if (ipv6FailClosedReason(in)) {
    p.nft6 = nodeFailClosedTable(IpAddress::Family::kV6, podMembers(pods, IpAddress::Family::kV6));
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
  if (z.podIp) {
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
    p.nft = ztunnelNftTable(z, IpAddress::fromV4(*z.podIp));
  }
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

bool podChangeNeedsFullPass(const EnrolledPod& pod, const NodeMode& mode) {
  return (pod.ip && !mode.ipv4Redirected) || (pod.ip6 && !mode.ipv6Redirected);
}

ChangeSet computePodChange(const EnrolledPod& pod, bool enroll,
                           const std::optional<std::string>& vethOriginal, const NodeMode& mode) {
  ChangeSet cs;
  cs.role = NetnsRole::kNode;
  std::optional<NftElements> element, bridgeElement, element6, bridgeElement6;
  std::optional<SysctlSpec> sysctl;
  if (pod.ip) {
    const IpAddress ip = IpAddress::fromV4(*pod.ip);
    element = NftElements{NftFamily::kIp, std::string(kNftTable), std::string(kNftPodSet), {ip}};
    if (mode.bridge) {
      bridgeElement = NftElements{
          NftFamily::kBridge, std::string(kNftBridgeTable), std::string(kNftPodSet), {ip}};
    }
    sysctl = podVethSysctl(pod);
  }
  if (pod.ip6) {
    element6 =
        NftElements{NftFamily::kIp6, std::string(kNftTable), std::string(kNftPodSet), {*pod.ip6}};
    if (mode.bridge) {
      bridgeElement6 = NftElements{
          NftFamily::kBridge, std::string(kNftBridgeTable), std::string(kNftPodSet6), {*pod.ip6}};
    }
  }
  auto add = [&](ChangeKind kind, const auto& spec) { cs.changes.push_back({kind, spec}); };
  if (enroll) {
    if (pod.ip) add(ChangeKind::kCreate, podRoute(*pod.ip));
    if (pod.ip6) add(ChangeKind::kCreate, podRoute6(*pod.ip6));
    if (sysctl) add(vethOriginal ? ChangeKind::kUpdate : ChangeKind::kCreate, *sysctl);
    // The bridge first: a frame handed up then finds the IP-layer rules ready for it.
    if (bridgeElement) add(ChangeKind::kCreate, *bridgeElement);
    if (element) add(ChangeKind::kCreate, *element);
    if (bridgeElement6) add(ChangeKind::kCreate, *bridgeElement6);
    if (element6) add(ChangeKind::kCreate, *element6);
  } else {
    if (element) add(ChangeKind::kDelete, *element);
    if (bridgeElement) add(ChangeKind::kDelete, *bridgeElement);
    if (element6) add(ChangeKind::kDelete, *element6);
    if (bridgeElement6) add(ChangeKind::kDelete, *bridgeElement6);
    if (pod.ip) add(ChangeKind::kDelete, podRoute(*pod.ip));
    if (pod.ip6) add(ChangeKind::kDelete, podRoute6(*pod.ip6));
    if (sysctl && vethOriginal) add(ChangeKind::kDelete, SysctlSpec{sysctl->key, *vethOriginal});
  }
  return cs;
}

NetnsPlan emptyPlan(NetnsRole role) {
  NetnsPlan p;
  p.role = role;
  return p;
}

}  // namespace ambient
