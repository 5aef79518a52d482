// A pod's interface kind, veth peer (and what that peer is a port of), gateway and MTU through
// rtnetlink. Touches the kernel.
#include "node-agent/sys/netlink_pod_inspector.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "common/sys/bridge_facts.h"
#include "common/sys/c_ptr.h"
#include "common/sys/netns.h"
#include "common/sys/rtnl.h"

namespace ambient {
namespace {

using Link = CPtr<rtnl_link, rtnl_link_put>;
using Cache = CPtr<nl_cache, nl_cache_free>;

}  // namespace

Result<std::optional<BridgeAttachment>> NetlinkPodInspector::bridgeOf(const ZtunnelRecord& z) {
  return readBridgeAttachment(nodeNetns_, z.hostVeth, z.netns, z.podIfname);
}

Result<std::map<IfName, std::optional<LinkMaster>>> NetlinkPodInspector::nodePortMasters() {
  auto nodeNs = Netns::open(nodeNetns_);
  if (!nodeNs) return fail(nodeNs.error());
  auto sock = connectRtnl(*nodeNs);
  if (!sock) return fail(sock.error());
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &raw); err < 0) {
    return fail(nlError(err, "interfaces of the node namespace"));
  }
  Cache links(raw);
  std::map<IfName, std::optional<LinkMaster>> out;
  for (auto* o = nl_cache_get_first(links.get()); o; o = nl_cache_get_next(o)) {
    auto* link = reinterpret_cast<rtnl_link*>(o);
    auto name = IfName::parse(rtnl_link_get_name(link), "node interface");
    if (!name) continue;  // the kernel's names always parse; nothing of ours can be named so
    std::optional<LinkMaster> master;
    if (int index = rtnl_link_get_master(link); index > 0) {
      Link m(rtnl_link_get(links.get(), index));  // takes a reference
      if (!m) continue;  // the master left between the dump's messages: read at the next pass
      auto masterName = IfName::parse(rtnl_link_get_name(m.get()), "master of " + name->str());
      if (!masterName) continue;
      const char* kind = rtnl_link_get_type(m.get());
      master = LinkMaster{*masterName, kind ? kind : ""};
    }
    out.emplace(*name, std::move(master));
  }
  return out;
}

bool NetlinkPodInspector::netnsGone(const std::string& netns) {
  auto ns = Netns::open(netns);
  return !ns && ns.error().isNotFound();  // ENOENT: the runtime removed it with its pod
}

namespace {

// The gateway of the main table's default route of `family` (its first next hop), if any.
Result<std::optional<IpAddress>> defaultGateway(nl_sock* sock, int family,
                                                const std::string& netns) {
  nl_cache* routesRaw = nullptr;
  if (int err = rtnl_route_alloc_cache(sock, family, 0, &routesRaw); err < 0) {
    return fail(nlError(err, "routes in " + netns));
  }
  Cache routes(routesRaw);
  const unsigned len = family == AF_INET6 ? 16 : 4;
  for (auto* o = nl_cache_get_first(routes.get()); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    nl_addr* dst = rtnl_route_get_dst(r);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || (dst && nl_addr_get_prefixlen(dst) != 0)) {
      continue;
    }
    if (rtnl_route_get_nnexthops(r) == 0) continue;
    nl_addr* gw = rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(r, 0));
    if (gw && nl_addr_get_family(gw) == family && nl_addr_get_len(gw) == len) {
      return std::optional<IpAddress>(
          IpAddress::fromBytes(family == AF_INET6 ? IpAddress::Family::kV6 : IpAddress::Family::kV4,
                               static_cast<const uint8_t*>(nl_addr_get_binary_addr(gw))));
    }
  }
  return std::optional<IpAddress>();
}

}  // namespace

Result<PodLink> NetlinkPodInspector::inspect(const std::string& netns, const IfName& ifname) {
  auto podNs = Netns::open(netns);
  if (!podNs) return fail(podNs.error());
  auto podSock = connectRtnl(*podNs);
  if (!podSock) return fail(podSock.error());
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(podSock->get(), 0, ifname.str().c_str(), &raw); err < 0) {
    return fail(nlError(err, "interface " + ifname.str() + " in " + netns));
  }
  Link link(raw);
  PodLink out;
  out.mtu = rtnl_link_get_mtu(link.get());
  const char* kind = rtnl_link_get_type(link.get());  // IFLA_INFO_KIND
  out.kind = kind ? kind : "";
  out.mac = linkMac(link.get());
  // Its global IPv6 addresses: the enroller checks that the request names each of them.
  nl_cache* addrsRaw = nullptr;
  if (int err = rtnl_addr_alloc_cache(podSock->get(), &addrsRaw); err < 0) {
    return fail(nlError(err, "addresses of " + ifname.str() + " in " + netns));
  }
  Cache addrs(addrsRaw);
  const int index = rtnl_link_get_ifindex(link.get());
  for (auto* o = nl_cache_get_first(addrs.get()); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    nl_addr* local = rtnl_addr_get_local(a);
    if (rtnl_addr_get_ifindex(a) != index || rtnl_addr_get_family(a) != AF_INET6 ||
        rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE || !local || nl_addr_get_len(local) != 16) {
      continue;
    }
    out.ipv6.push_back(IpAddress::fromBytes(
        IpAddress::Family::kV6, static_cast<const uint8_t*>(nl_addr_get_binary_addr(local))));
  }
  // A macvlan's or ipvlan's IFLA_LINK is its lower device in the node, not a peer: report the
  // kind and let the caller refuse it (checkCapturable) instead of naming the node's NIC.
  if (out.kind != "veth") return out;
  int peer = rtnl_link_get_link(link.get());  // IFLA_LINK: the veth peer's index in the node
  if (peer <= 0) {
    return fail(ErrorCode::kNotFound, "interface " + ifname.str() + " in " + netns +
                                          " is not a veth with a peer in the node");
  }
  auto nodeNs = Netns::open(nodeNetns_);
  if (!nodeNs) return fail(nodeNs.error());
  auto nodeSock = connectRtnl(*nodeNs);
  if (!nodeSock) return fail(nodeSock.error());
  rtnl_link* hostRaw = nullptr;
  if (int err = rtnl_link_get_kernel(nodeSock->get(), peer, nullptr, &hostRaw); err < 0) {
    return fail(nlError(err, "peer (index " + std::to_string(peer) + ") of " + ifname.str() +
                                 " in " + netns + " in the node namespace"));
  }
  Link host(hostRaw);
  auto hostVeth = IfName::parse(rtnl_link_get_name(host.get()), "peer of " + ifname.str());
  if (!hostVeth) return fail(hostVeth.error());
  out.hostVeth = *hostVeth;
  if (int master = rtnl_link_get_master(host.get()); master > 0) {
    rtnl_link* masterRaw = nullptr;
    if (int err = rtnl_link_get_kernel(nodeSock->get(), master, nullptr, &masterRaw); err < 0) {
      return fail(nlError(err, "master (index " + std::to_string(master) + ") of " +
                                   hostVeth->str() + " in the node namespace"));
    }
    Link masterLink(masterRaw);
    auto name = IfName::parse(rtnl_link_get_name(masterLink.get()), "master of " + hostVeth->str());
    if (!name) return fail(name.error());
    const char* masterKind = rtnl_link_get_type(masterLink.get());
    out.hostMaster = LinkMaster{*name, masterKind ? masterKind : ""};
  }

  // The IPv4 default gateway; on an IPv6-only pod the IPv6 one.
  for (int family : {AF_INET, AF_INET6}) {
    auto gateway = defaultGateway(podSock->get(), family, netns);
    if (!gateway) return fail(gateway.error());
    if (*gateway) {
      out.gateway = *gateway;
      break;
    }
  }
  return out;
}

}  // namespace ambient
