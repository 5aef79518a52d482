// RTM_GETROUTE through libnl inside a namespace, IPv4 or IPv6. Touches the kernel (reads only).
#include "ambientctl/sys/kernel_route_get.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <cstring>

#include "common/core/hex.h"
#include "common/sys/c_ptr.h"
#include "common/sys/netns.h"
#include "common/sys/rtnl.h"

namespace ambient {
namespace {

using Msg = CPtr<nl_msg, nlmsg_free>;
using Route = CPtr<rtnl_route, rtnl_route_put>;
using Link = CPtr<rtnl_link, rtnl_link_put>;

// The address's bytes as the kernel takes them: 4 (AF_INET) or 16 (AF_INET6), network order.
int addressLength(const IpAddress& a) {
  return a.isV6() ? 16 : 4;
}

}  // namespace

Result<RouteAnswer> kernelRouteGet(const std::string& netnsPath, const IpAddress& dst,
                                   const IpAddress& src, const std::string& iif, uint32_t mark) {
  auto ns = Netns::open(netnsPath);
  if (!ns) return fail(ns.error());
  auto connected = connectRtnl(*ns);
  if (!connected) return fail(connected.error());
  NlSocket sock = std::move(*connected);
  int ifindex = 0;
  if (!iif.empty()) {
    rtnl_link* l = nullptr;
    if (int err = rtnl_link_get_kernel(sock.get(), 0, iif.c_str(), &l); err < 0) {
      return fail(nlError(err, "interface " + iif));
    }
    Link owner(l);
    ifindex = rtnl_link_get_ifindex(l);
  }
  Msg msg(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST));
  rtmsg rtm{};
  const bool hasSrc = src != IpPrefix::any(src.family()).addr;
  const int len = addressLength(dst);
  rtm.rtm_family = dst.isV6() ? AF_INET6 : AF_INET;
  rtm.rtm_dst_len = static_cast<unsigned char>(len * 8);
  rtm.rtm_src_len = hasSrc ? static_cast<unsigned char>(len * 8) : 0;
  // Without it the kernel reports every answer as table main (as `ip route get` does, ask for
  // the table the lookup really used).
  rtm.rtm_flags = RTM_F_LOOKUP_TABLE;
  nlmsg_append(msg.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO);
  nla_put(msg.get(), RTA_DST, len, dst.bytes().data());
  if (hasSrc) nla_put(msg.get(), RTA_SRC, len, src.bytes().data());
  if (ifindex) nla_put_u32(msg.get(), RTA_IIF, ifindex);
  if (mark) nla_put_u32(msg.get(), RTA_MARK, mark);
  if (int err = nl_send_auto(sock.get(), msg.get()); err < 0) {
    return fail(nlError(err, "route get " + dst.str()));
  }
  struct Ctx {
    Route route;
    int sysErrno = 0;  // the kernel's own answer to a refused lookup
  } ctx;
  auto cb = [](nl_msg* m, void* arg) -> int {
    rtnl_route* r = nullptr;
    if (rtnl_route_parse(nlmsg_hdr(m), &r) >= 0) static_cast<Ctx*>(arg)->route.reset(r);
    return NL_OK;
  };
  nl_socket_modify_cb(sock.get(), NL_CB_VALID, NL_CB_CUSTOM, cb, &ctx);
  // libnl folds errnos it has no code for (EHOSTUNREACH, ENETUNREACH, ...) into NLE_FAILURE,
  // "Unspecific failure": keep the kernel's errno, which says why the lookup failed.
  auto onError = [](sockaddr_nl*, nlmsgerr* e, void* arg) -> int {
    static_cast<Ctx*>(arg)->sysErrno = -e->error;
    return NL_STOP;  // nl_recvmsgs still returns the (folded) error
  };
  nl_socket_modify_err_cb(sock.get(), NL_CB_CUSTOM, onError, &ctx);
  if (int err = nl_recvmsgs_default(sock.get()); err < 0) {
    std::string what = "route get " + dst.str() + " from " + src.str() +
                       (iif.empty() ? "" : " iif " + iif) + " mark " + hexString(mark);
    if (ctx.sysErrno > 0) return fail(kernelError(ctx.sysErrno, what));
    return fail(nlError(err, what));
  }
  if (!ctx.route) return fail(ErrorCode::kNotFound, "no route answer for " + dst.str());
  RouteAnswer a;
  a.table = rtnl_route_get_table(ctx.route.get());
  a.local = rtnl_route_get_type(ctx.route.get()) == RTN_LOCAL;
  if (rtnl_route_get_nnexthops(ctx.route.get()) > 0) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(ctx.route.get(), 0);
    // The socket's callbacks now parse routes: name the device with the namespace's own ioctl.
    int index = rtnl_route_nh_get_ifindex(nh);
    char name[IF_NAMESIZE] = {};
    (void)ns->run([&]() -> Status {
      if (!if_indextoname(static_cast<unsigned>(index), name)) name[0] = 0;
      return {};
    });
    a.dev = name[0] ? name : "if" + std::to_string(index);
    if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) {
      const bool v6 = nl_addr_get_family(gw) == AF_INET6;
      if (nl_addr_get_len(gw) >= (v6 ? 16u : 4u)) {
        a.via = IpAddress::fromBytes(v6 ? IpAddress::Family::kV6 : IpAddress::Family::kV4,
                                     static_cast<const uint8_t*>(nl_addr_get_binary_addr(gw)));
      }
    }
  }
  return a;
}

}  // namespace ambient
