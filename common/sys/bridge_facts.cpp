// The bridge a node-side veth is a port of. Touches the kernel.
#include "common/sys/bridge_facts.h"

#include <arpa/inet.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include <cstdint>
#include <cstring>

#include "common/sys/rtnl.h"

namespace ambient {
namespace {

using Link = CPtr<rtnl_link, rtnl_link_put>;
using Cache = CPtr<nl_cache, nl_cache_free>;

}  // namespace

Result<MacAddr> readLinkMac(const std::string& netns, const IfName& ifname) {
  auto ns = Netns::open(netns);
  if (!ns) return fail(ns.error());
  auto sock = connectRtnl(*ns);
  if (!sock) return fail(sock.error());
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock->get(), 0, ifname.str().c_str(), &raw); err < 0) {
    return fail(nlError(err, "interface " + ifname.str() + " in " + netns));
  }
  Link link(raw);
  auto mac = linkMac(link.get());
  if (!mac) {
    return fail(ErrorCode::kInvalidInput,
                "interface " + ifname.str() + " in " + netns + " has no MAC address");
  }
  return *mac;
}

Result<std::optional<BridgeAttachment>> readBridgeAttachment(const std::string& nodeNetns,
                                                             const IfName& port,
                                                             const std::string& peerNetns,
                                                             const IfName& peerIfname) {
  auto ns = Netns::open(nodeNetns);
  if (!ns) return fail(ns.error());
  auto sock = connectRtnl(*ns);
  if (!sock) return fail(sock.error());
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock->get(), 0, port.str().c_str(), &raw); err < 0) {
    return fail(nlError(err, "veth " + port.str() + " in the node namespace"));
  }
  Link link(raw);
  const int master = rtnl_link_get_master(link.get());
  if (master <= 0) return std::optional<BridgeAttachment>();
  rtnl_link* masterRaw = nullptr;
  if (int err = rtnl_link_get_kernel(sock->get(), master, nullptr, &masterRaw); err < 0) {
    return fail(nlError(err, "master (index " + std::to_string(master) + ") of " + port.str()));
  }
  Link bridge(masterRaw);
  auto name = IfName::parse(rtnl_link_get_name(bridge.get()), "master of " + port.str());
  if (!name) return fail(name.error());
  const char* kind = rtnl_link_get_type(bridge.get());
  if (!kind || std::strcmp(kind, "bridge") != 0) {
    return fail(ErrorCode::kInvalidInput, port.str() + " is a port of " +
                                              (kind ? std::string(kind) + " device " : "device ") +
                                              name->str() + ", not of a Linux bridge");
  }
  BridgeAttachment out;
  out.bridge = *name;
  auto mac = linkMac(bridge.get());
  if (!mac) return fail(ErrorCode::kInvalidInput, "bridge " + name->str() + " has no MAC address");
  out.mac = *mac;

  nl_cache* addrsRaw = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock->get(), &addrsRaw); err < 0) {
    return fail(nlError(err, "addresses of bridge " + name->str()));
  }
  Cache addrs(addrsRaw);
  std::optional<Ipv4Prefix> subnet;
  for (auto* o = nl_cache_get_first(addrs.get()); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    nl_addr* local = rtnl_addr_get_local(a);
    if (rtnl_addr_get_ifindex(a) != master || !local) continue;
    const int len = rtnl_addr_get_prefixlen(a);
    const auto* bytes = static_cast<const uint8_t*>(nl_addr_get_binary_addr(local));
    if (rtnl_addr_get_family(a) == AF_INET && nl_addr_get_len(local) == 4) {
      if (subnet || len < 1 || len > 30) continue;  // a /31 or /32 is no pod network
      const IpPrefix net =
          IpPrefix{IpAddress::fromBytes(IpAddress::Family::kV4, bytes), static_cast<uint8_t>(len)}
              .network();
      subnet = Ipv4Prefix{*net.addr.v4(), net.len};
    } else if (rtnl_addr_get_family(a) == AF_INET6 && nl_addr_get_len(local) == 16) {
      // The pods' IPv6 gateway network: a global or unique-local address (never the
      // link-local one every bridge has), /1 to /126.
      const IpAddress ip = IpAddress::fromBytes(IpAddress::Family::kV6, bytes);
      if (out.subnet6 || len < 1 || len > 126 || !checkRedirectableIp6(ip, "bridge address")) {
        continue;
      }
      out.subnet6 = IpPrefix{ip, static_cast<uint8_t>(len)}.network();
    }
  }
  if (!subnet) {
    return fail(ErrorCode::kInvalidInput,
                "bridge " + name->str() +
                    " has no IPv4 address with a pod network prefix (/1 to /30): its pods have no "
                    "gateway in the node, so their traffic cannot be handed up to be redirected");
  }
  out.subnet = *subnet;
  auto peerMac = readLinkMac(peerNetns, peerIfname);
  if (!peerMac) return fail(peerMac.error());
  out.ztunnelMac = *peerMac;
  return std::optional<BridgeAttachment>(out);
}

}  // namespace ambient
