// Observe the rtnetlink objects we own in one namespace through libnl dumps. Touches the kernel.
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/geneve.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include <cstring>
#include <functional>

#include "common/core/constants.h"
#include "common/sys/rtnl.h"

namespace ambient {
namespace {

using Cache = CPtr<nl_cache, nl_cache_free>;
using Link = CPtr<rtnl_link, rtnl_link_put>;
using Addr = CPtr<nl_addr, nl_addr_put>;

// A dump interrupted by a concurrent change (NLE_DUMP_INTR) is simply taken again.
Result<Cache> dump(const std::function<int(nl_cache**)>& alloc, const char* what) {
  int err = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    nl_cache* c = nullptr;
    err = alloc(&c);
    if (err == 0) return Cache(c);
    if (err != -NLE_DUMP_INTR) break;
  }
  return fail(nlError(err, std::string("dump ") + what));
}

// An IPv4 or IPv6 address as the kernel gave it; nullopt for none or another kind.
std::optional<IpAddress> addressOf(nl_addr* a) {
  if (!a) return std::nullopt;
  const auto* bytes = static_cast<const uint8_t*>(nl_addr_get_binary_addr(a));
  if (nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == 4) {
    return IpAddress::fromBytes(IpAddress::Family::kV4, bytes);
  }
  if (nl_addr_get_family(a) == AF_INET6 && nl_addr_get_len(a) == 16) {
    return IpAddress::fromBytes(IpAddress::Family::kV6, bytes);
  }
  return std::nullopt;
}

IpAddress::Family familyOf(int af) {
  return af == AF_INET6 ? IpAddress::Family::kV6 : IpAddress::Family::kV4;
}

constexpr int kFamilies[] = {AF_INET, AF_INET6};

std::vector<std::string> tunnelNames(NetnsRole role) {
  if (role == NetnsRole::kNode) return {std::string(kInboundTunnel), std::string(kOutboundTunnel)};
  return {std::string(kPodInboundTunnel), std::string(kPodOutboundTunnel)};
}

std::vector<uint32_t> ownedTables(NetnsRole role) {
  if (role == NetnsRole::kNode) return {kTableInbound, kTableOutbound, kTableProxyReturn};
  return {kPodTableLocal};
}

std::optional<TunnelSpec> readTunnel(rtnl_link* l) {
  TunnelSpec t;
  t.name = rtnl_link_get_name(l);
  t.mtu = rtnl_link_get_mtu(l);
  t.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
  const char* type = rtnl_link_get_type(l);
  nl_addr* remote = nullptr;
  uint32_t port = 0;
  if (type && std::strcmp(type, "geneve") == 0) {
    t.kind = TunnelKind::kGeneve;
    rtnl_link_geneve_get_id(l, &t.vni);
    rtnl_link_geneve_get_remote(l, &remote);
    rtnl_link_geneve_get_port(l, &port);
  } else if (type && std::strcmp(type, "vxlan") == 0) {
    t.kind = TunnelKind::kVxlan;
    rtnl_link_vxlan_get_id(l, &t.vni);
    rtnl_link_vxlan_get_group(l, &remote);
    rtnl_link_vxlan_get_port(l, &port);
  } else {
    // A link with our name but of another kind: report it so diff replaces it.
    t.vni = 0;
    t.kind = TunnelKind::kVxlan;
    t.port = 0;
    return t;
  }
  Addr owner(remote);
  t.remote = addressOf(remote).value_or(IpAddress{});
  t.port = static_cast<uint16_t>(port);
  return t;
}

RouteScope scopeOf(int s) {
  if (s == RT_SCOPE_LINK) return RouteScope::kLink;
  if (s == RT_SCOPE_HOST) return RouteScope::kHost;
  return RouteScope::kUniverse;
}

}  // namespace

Result<NetnsPlan> Rtnl::observe(NetnsRole role) {
  NetnsPlan out;
  out.role = role;
  nl_sock* s = sock_.get();

  auto links = dump([&](nl_cache** c) { return rtnl_link_alloc_cache(s, AF_UNSPEC, c); }, "links");
  if (!links) return fail(links.error());
  auto nameOf = [&](int ifindex) {
    char buf[IFNAMSIZ] = {};
    rtnl_link_i2name(links->get(), ifindex, buf, sizeof buf);
    return std::string(buf);
  };

  std::vector<int> tunnelIndexes;
  for (const auto& name : tunnelNames(role)) {
    Link l(rtnl_link_get_by_name(links->get(), name.c_str()));
    if (!l) continue;
    if (auto t = readTunnel(l.get())) {
      out.tunnels.push_back(*t);
      tunnelIndexes.push_back(rtnl_link_get_ifindex(l.get()));
    }
  }

  auto addrs = dump([&](nl_cache** c) { return rtnl_addr_alloc_cache(s, c); }, "addresses");
  if (!addrs) return fail(addrs.error());
  for (auto* o = nl_cache_get_first(addrs->get()); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    int idx = rtnl_addr_get_ifindex(a);
    // The kernel gives every IPv6 device a link-local address of its own: not ours.
    auto local = addressOf(rtnl_addr_get_local(a));
    if (!local || rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE ||
        std::find(tunnelIndexes.begin(), tunnelIndexes.end(), idx) == tunnelIndexes.end()) {
      continue;
    }
    out.addresses.push_back(
        AddressSpec{nameOf(idx), IpPrefix{*local, uint8_t(rtnl_addr_get_prefixlen(a))}});
  }

  auto tables = ownedTables(role);
  for (int af : kFamilies) {
    auto routes = dump([&](nl_cache** c) { return rtnl_route_alloc_cache(s, af, 0, c); }, "routes");
    if (!routes) return fail(routes.error());
    for (auto* o = nl_cache_get_first(routes->get()); o; o = nl_cache_get_next(o)) {
      auto* r = reinterpret_cast<rtnl_route*>(o);
      // A kernel without IPv6 answers an AF_INET6 dump with every family's routes.
      if (rtnl_route_get_family(r) != af || rtnl_route_get_protocol(r) != kRouteProtocol ||
          std::find(tables.begin(), tables.end(), rtnl_route_get_table(r)) == tables.end()) {
        continue;
      }
      RouteSpec spec;
      spec.table = rtnl_route_get_table(r);
      spec.type = rtnl_route_get_type(r) == RTN_LOCAL ? RouteType::kLocal : RouteType::kUnicast;
      nl_addr* dst = rtnl_route_get_dst(r);
      spec.dst = IpPrefix::any(familyOf(af));
      if (auto ip = addressOf(dst)) spec.dst = IpPrefix{*ip, uint8_t(nl_addr_get_prefixlen(dst))};
      spec.scope = scopeOf(rtnl_route_get_scope(r));
      if (rtnl_route_get_nnexthops(r) > 0) {
        rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
        spec.dev = nameOf(rtnl_route_nh_get_ifindex(nh));
        spec.via = addressOf(rtnl_route_nh_get_gateway(nh));
        spec.onlink = (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0;
      }
      out.routes.push_back(spec);
    }
  }

  for (int af : kFamilies) {
    auto rules = dump([&](nl_cache** c) { return rtnl_rule_alloc_cache(s, af, c); }, "rules");
    if (!rules) return fail(rules.error());
    for (auto* o = nl_cache_get_first(rules->get()); o; o = nl_cache_get_next(o)) {
      auto* r = reinterpret_cast<rtnl_rule*>(o);
      uint8_t proto = 0;
      if (rtnl_rule_get_family(r) != af || rtnl_rule_get_protocol(r, &proto) != 0 ||
          proto != kRouteProtocol) {
        continue;
      }
      RuleSpec spec;
      spec.family = familyOf(af);
      spec.priority = rtnl_rule_get_prio(r);
      if (const char* iif = rtnl_rule_get_iif(r)) spec.iif = iif;
      spec.fwmask = rtnl_rule_get_mask(r);
      spec.fwmark = rtnl_rule_get_mark(r);
      if (spec.fwmark == 0 && spec.fwmask == 0xffffffff) spec.fwmask = 0;  // no fwmark match
      if (rtnl_rule_get_action(r) == FR_ACT_GOTO) {
        spec.action = RuleAction::kGoto;
        spec.gotoTarget = rtnl_rule_get_goto(r);
      } else {
        spec.action = RuleAction::kLookup;
        spec.table = rtnl_rule_get_table(r);
      }
      out.rules.push_back(spec);
    }
  }
  return out;
}

}  // namespace ambient
