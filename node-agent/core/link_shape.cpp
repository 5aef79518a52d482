// Which pod interfaces the node can redirect. Pure.
#include "node-agent/core/link_shape.h"

namespace ambient {

Status checkCapturable(const PodLink& link, const IfName& ifname) {
  if (link.kind != "veth") {
    return fail(ErrorCode::kInvalidInput,
                "interface " + ifname.str() + " is " +
                    (link.kind.empty() ? std::string("a device of unknown kind")
                                       : "a " + link.kind + " device") +
                    ", not a veth: its traffic does not cross the node's IP layer, so it "
                    "cannot be redirected (not enrolled)");
  }
  if (!link.hostMaster) return {};
  const LinkMaster& m = *link.hostMaster;
  if (m.kind == "bridge") {
    return fail(ErrorCode::kInvalidInput,
                "its node-side veth " + link.hostVeth.str() + " is a port of bridge " +
                    m.name.str() +
                    ": redirection for pods on a bridge-based primary CNI (flannel, k3s, "
                    "kubenet) is not supported yet, and same-bridge traffic would bypass "
                    "ztunnel (not enrolled)");
  }
  return fail(ErrorCode::kInvalidInput,
              "its node-side veth " + link.hostVeth.str() + " is a port of " +
                  (m.kind.empty() ? std::string("device") : m.kind + " device") + " " +
                  m.name.str() +
                  ": the node cannot capture traffic that this device switches (not enrolled)");
}

}  // namespace ambient
