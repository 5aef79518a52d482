// ztunnel's admin port from its network namespace. Touches the network.
#include "ambientctl/sys/ztunnel_admin.h"

#include <httplib.h>

#include "common/sys/netns.h"

namespace ambient {

Result<std::string> ztunnelAdminGet(const ZtunnelAdmin& admin, const std::string& path) {
  auto ns = Netns::open(admin.netns);
  if (!ns) return fail(ns.error().wrap("ztunnel's network namespace"));
  std::string where = "ztunnel's admin port " + admin.host + ":" + std::to_string(admin.port) +
                      " in " + admin.netns;
  std::string body;
  // The client's socket is made inside the namespace; the thread switches back after.
  Status got = ns->run([&]() -> Status {
    httplib::Client client(admin.host, admin.port);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    auto res = client.Get(path);
    if (!res) {
      return fail(ErrorCode::kUnavailable,
                  where + ": " + httplib::to_string(res.error()) + " (is ztunnel running?)");
    }
    if (res->status != 200) {
      return fail(ErrorCode::kUnavailable,
                  where + ": GET " + path + " answered " + std::to_string(res->status));
    }
    body = std::move(res->body);
    return {};
  });
  if (!got) return fail(got.error());
  return body;
}

}  // namespace ambient
