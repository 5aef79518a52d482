// rtnetlink through libnl: observe and change the tunnels, addresses, routes and rules we own
// in one network namespace. The socket is opened inside the namespace and used from anywhere.
// Touches the kernel.
#pragma once

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <optional>

#include "common/core/diff.h"
#include "common/core/mac_addr.h"
#include "common/core/plan.h"
#include "common/sys/c_ptr.h"
#include "common/sys/netns.h"

namespace ambient {

class Rtnl {
 public:
  static Result<Rtnl> openIn(const Netns& ns);

  // Our tunnel links (by name), their addresses, routes in our tables with our protocol,
  // rules with our protocol.
  Result<NetnsPlan> observe(NetnsRole role);

  Status tunnel(ChangeKind kind, const TunnelSpec& t);
  Status address(ChangeKind kind, const AddressSpec& a);
  Status route(ChangeKind kind, const RouteSpec& r);
  Status rule(ChangeKind kind, const RuleSpec& r);

 private:
  explicit Rtnl(nl_sock* s) : sock_(s) {}
  Result<int> ifindex(const std::string& name);
  CPtr<nl_sock, nl_socket_free> sock_;
};

using NlSocket = CPtr<nl_sock, nl_socket_free>;
// An rtnetlink socket connected inside `ns` (usable from any thread afterwards).
Result<NlSocket> connectRtnl(const Netns& ns);

// A link's Ethernet address (IFLA_ADDRESS); nullopt when it has none of 6 bytes.
std::optional<MacAddr> linkMac(rtnl_link* link);

// libnl error -> our error (NLE_EXIST -> kExists, NLE_OBJ_NOTFOUND/NODEV -> kNotFound, ...).
Error nlError(int nlErr, const std::string& context);

}  // namespace ambient
