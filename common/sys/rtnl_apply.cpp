// Create, update and delete the rtnetlink objects we own through libnl. Each builder notes the
// `ip` command it stands for. Touches the kernel.
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/geneve.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include <cstring>

#include "common/core/constants.h"
#include "common/core/render.h"
#include "common/sys/rtnl.h"

namespace ambient {
namespace {

using Link = CPtr<rtnl_link, rtnl_link_put>;
using Addr = CPtr<nl_addr, nl_addr_put>;
using RtAddr = CPtr<rtnl_addr, rtnl_addr_put>;
using Route = CPtr<rtnl_route, rtnl_route_put>;
using Rule = CPtr<rtnl_rule, rtnl_rule_put>;

int addressFamily(IpAddress::Family family) {
  return family == IpAddress::Family::kV6 ? AF_INET6 : AF_INET;
}

Addr nlAddr(const IpAddress& ip, uint8_t prefixLen) {
  Addr a(nl_addr_build(addressFamily(ip.family()), ip.bytes().data(), ip.isV4() ? 4 : 16));
  nl_addr_set_prefixlen(a.get(), prefixLen);
  return a;
}

uint8_t kernelScope(RouteScope s) {
  switch (s) {
    case RouteScope::kLink:
      return RT_SCOPE_LINK;
    case RouteScope::kHost:
      return RT_SCOPE_HOST;
    case RouteScope::kUniverse:
      break;
  }
  return RT_SCOPE_UNIVERSE;
}

}  // namespace

Error nlError(int nlErr, const std::string& context) {
  int e = nlErr < 0 ? -nlErr : nlErr;
  ErrorCode code = ErrorCode::kKernel;
  if (e == NLE_EXIST) code = ErrorCode::kExists;
  if (e == NLE_OBJ_NOTFOUND || e == NLE_NODEV || e == NLE_NOADDR) code = ErrorCode::kNotFound;
  if (e == NLE_OPNOTSUPP || e == NLE_AF_NOSUPPORT || e == NLE_PROTO_MISMATCH) {
    code = ErrorCode::kUnsupported;
  }
  return Error{code, 0, context + ": " + nl_geterror(nlErr)};
}

std::optional<MacAddr> linkMac(rtnl_link* link) {
  nl_addr* mac = rtnl_link_get_addr(link);
  if (!mac || nl_addr_get_len(mac) != 6) return std::nullopt;
  MacAddr out;
  std::memcpy(out.bytes.data(), nl_addr_get_binary_addr(mac), 6);
  return out;
}

Result<NlSocket> connectRtnl(const Netns& ns) {
  NlSocket sock(nl_socket_alloc());
  if (!sock) return fail(ErrorCode::kInternal, "out of memory allocating a netlink socket");
  auto st = ns.run([&]() -> Status {
    if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) {
      return fail(nlError(err, "connect rtnetlink in " + ns.path()));
    }
    return {};
  });
  if (!st) return fail(st.error());
  return sock;
}

Result<Rtnl> Rtnl::openIn(const Netns& ns) {
  auto sock = connectRtnl(ns);
  if (!sock) return fail(sock.error());
  return Rtnl(sock->release());
}

Result<int> Rtnl::ifindex(const std::string& name) {
  rtnl_link* l = nullptr;
  if (int err = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &l); err < 0) {
    return fail(nlError(err, "look up link " + name));
  }
  Link owner(l);
  return rtnl_link_get_ifindex(l);
}

// ip link add NAME type geneve|vxlan id VNI remote IP dstport PORT; ip link set NAME mtu M up
// ip link set NAME mtu M up        (kUpdate)
// ip link del NAME                 (kDelete)
Status Rtnl::tunnel(ChangeKind kind, const TunnelSpec& t) {
  std::string what = "tunnel " + t.name;
  if (kind == ChangeKind::kDelete) {
    Link l(rtnl_link_alloc());
    rtnl_link_set_name(l.get(), t.name.c_str());
    if (int err = rtnl_link_delete(sock_.get(), l.get()); err < 0) {
      return fail(nlError(err, "delete " + what));
    }
    return {};
  }
  if (kind == ChangeKind::kUpdate) {
    rtnl_link* cur = nullptr;
    if (int err = rtnl_link_get_kernel(sock_.get(), 0, t.name.c_str(), &cur); err < 0) {
      return fail(nlError(err, "look up " + what));
    }
    Link owner(cur);
    Link change(rtnl_link_alloc());
    rtnl_link_set_mtu(change.get(), t.mtu);
    if (t.up)
      rtnl_link_set_flags(change.get(), IFF_UP);
    else
      rtnl_link_unset_flags(change.get(), IFF_UP);
    if (int err = rtnl_link_change(sock_.get(), cur, change.get(), 0); err < 0) {
      return fail(nlError(err, "set MTU/state of " + what));
    }
    return {};
  }
  Link l(t.kind == TunnelKind::kGeneve ? rtnl_link_geneve_alloc() : rtnl_link_vxlan_alloc());
  if (!l) return fail(ErrorCode::kInternal, "out of memory building " + what);
  Addr remote = nlAddr(t.remote, IpPrefix::host(t.remote).len);
  rtnl_link_set_name(l.get(), t.name.c_str());
  rtnl_link_set_mtu(l.get(), t.mtu);
  if (t.up) rtnl_link_set_flags(l.get(), IFF_UP);
  if (t.kind == TunnelKind::kGeneve) {
    rtnl_link_geneve_set_id(l.get(), t.vni);
    rtnl_link_geneve_set_remote(l.get(), remote.get());
    rtnl_link_geneve_set_port(l.get(), t.port);
  } else {
    rtnl_link_vxlan_set_id(l.get(), t.vni);
    rtnl_link_vxlan_set_group(l.get(), remote.get());
    rtnl_link_vxlan_set_port(l.get(), t.port);
  }
  if (int err = rtnl_link_add(sock_.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    Error e = nlError(err, "create " + what + " (" + std::string(tunnelKindName(t.kind)) + ")");
    if (e.code == ErrorCode::kUnsupported || err == -NLE_INVAL) {
      e.code = ErrorCode::kUnsupported;
      e.context += "; does this kernel have the " + std::string(tunnelKindName(t.kind)) +
                   " module? (tunnel mode auto falls back to vxlan)";
    }
    return fail(e);
  }
  return {};
}

// ip addr add|del PREFIX dev DEV [nodad]
Status Rtnl::address(ChangeKind kind, const AddressSpec& a) {
  std::string what = "address " + a.prefix.str() + " on " + a.dev;
  auto idx = ifindex(a.dev);
  if (!idx) return fail(idx.error().wrap(what));
  RtAddr addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), *idx);
  rtnl_addr_set_family(addr.get(), addressFamily(a.prefix.family()));
  if (a.prefix.family() == IpAddress::Family::kV6) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
  Addr local = nlAddr(a.prefix.addr, a.prefix.len);
  rtnl_addr_set_local(addr.get(), local.get());
  rtnl_addr_set_prefixlen(addr.get(), a.prefix.len);
  int err = kind == ChangeKind::kDelete ? rtnl_addr_delete(sock_.get(), addr.get(), 0)
                                        : rtnl_addr_add(sock_.get(), addr.get(), NLM_F_EXCL);
  if (err < 0) return fail(nlError(err, (kind == ChangeKind::kDelete ? "delete " : "add ") + what));
  return {};
}

// ip [-6] route add|del [local] DST [via GW] dev DEV [onlink] [scope S] table T proto 112
Status Rtnl::route(ChangeKind kind, const RouteSpec& r) {
  std::string what = "route " + renderRoute(r);
  auto idx = ifindex(r.dev);
  if (!idx) return fail(idx.error().wrap(what));
  Route route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), addressFamily(r.dst.family()));
  rtnl_route_set_table(route.get(), r.table);
  rtnl_route_set_protocol(route.get(), kRouteProtocol);
  rtnl_route_set_type(route.get(), r.type == RouteType::kLocal ? RTN_LOCAL : RTN_UNICAST);
  rtnl_route_set_scope(route.get(), kernelScope(r.scope));
  Addr dst = nlAddr(r.dst.addr, r.dst.len);
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();  // owned by the route once added
  rtnl_route_nh_set_ifindex(nh, *idx);
  Addr gw;
  if (r.via) {
    gw = nlAddr(*r.via, IpPrefix::host(*r.via).len);
    rtnl_route_nh_set_gateway(nh, gw.get());
  }
  if (r.onlink) rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
  rtnl_route_add_nexthop(route.get(), nh);
  int err = kind == ChangeKind::kDelete ? rtnl_route_delete(sock_.get(), route.get(), 0)
                                        : rtnl_route_add(sock_.get(), route.get(), NLM_F_EXCL);
  if (err < 0) return fail(nlError(err, (kind == ChangeKind::kDelete ? "delete " : "add ") + what));
  return {};
}

// ip [-6] rule add|del pref P [iif I] [fwmark M/K] lookup T|goto G proto 112
Status Rtnl::rule(ChangeKind kind, const RuleSpec& r) {
  std::string what = "rule " + renderRule(r);
  Rule rule(rtnl_rule_alloc());
  rtnl_rule_set_family(rule.get(), addressFamily(r.family));
  rtnl_rule_set_prio(rule.get(), r.priority);
  rtnl_rule_set_protocol(rule.get(), kRouteProtocol);
  if (!r.iif.empty()) rtnl_rule_set_iif(rule.get(), r.iif.c_str());
  if (r.fwmask) {
    rtnl_rule_set_mark(rule.get(), r.fwmark);
    rtnl_rule_set_mask(rule.get(), r.fwmask);
  }
  if (r.action == RuleAction::kGoto) {
    rtnl_rule_set_action(rule.get(), FR_ACT_GOTO);
    rtnl_rule_set_goto(rule.get(), r.gotoTarget);
  } else {
    rtnl_rule_set_action(rule.get(), FR_ACT_TO_TBL);
    rtnl_rule_set_table(rule.get(), r.table);
  }
  int err = kind == ChangeKind::kDelete ? rtnl_rule_delete(sock_.get(), rule.get(), 0)
                                        : rtnl_rule_add(sock_.get(), rule.get(), NLM_F_EXCL);
  if (err < 0) return fail(nlError(err, (kind == ChangeKind::kDelete ? "delete " : "add ") + what));
  return {};
}

}  // namespace ambient
