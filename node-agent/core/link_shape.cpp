// Which pod interfaces the node can redirect. Pure.
#include "node-agent/core/link_shape.h"

namespace ambient {

Status checkCapturable(const PodLink& link, const IfName& ifname,
                       const std::optional<IfName>& ztunnelBridge) {
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
    if (ztunnelBridge && m.name == *ztunnelBridge) return {};
    return fail(ErrorCode::kInvalidInput,
                "its node-side veth " + link.hostVeth.str() + " is a port of bridge " +
                    m.name.str() + ", but " +
                    (ztunnelBridge ? "ztunnel's veth is a port of bridge " + ztunnelBridge->str()
                                   : std::string("ztunnel's veth is on no bridge")) +
                    ": only pods on ztunnel's own bridge can be captured, traffic on another "
                    "bridge would bypass ztunnel (not enrolled)");
  }
  return fail(ErrorCode::kInvalidInput,
              "its node-side veth " + link.hostVeth.str() + " is a port of " +
                  (m.kind.empty() ? std::string("device") : m.kind + " device") + " " +
                  m.name.str() +
                  ": the node cannot capture traffic that this device switches (not enrolled)");
}

Status checkMacOnBridge(const PodLink& link, const std::optional<BridgeAttachment>& ztunnelBridge) {
  if (!link.mac || !ztunnelBridge || !link.hostMaster ||
      link.hostMaster->name != ztunnelBridge->bridge) {
    return {};
  }
  const std::string where = " on bridge " + ztunnelBridge->bridge.str();
  if (ztunnelBridge->ztunnelMac && *link.mac == *ztunnelBridge->ztunnelMac) {
    return fail(ErrorCode::kInvalidInput,
                "its MAC address " + link.mac->str() + " is also ztunnel's" + where +
                    ": the bridge cannot deliver to both, so the node drops this pod's frames to "
                    "keep ztunnel reachable; give the pod another MAC (not enrolled)");
  }
  if (*link.mac == ztunnelBridge->mac) {
    return fail(ErrorCode::kInvalidInput,
                "its MAC address " + link.mac->str() + " is the bridge's own" + where +
                    ": frames to it are taken by the bridge and never reach the pod; give the "
                    "pod another MAC (not enrolled)");
  }
  return {};
}

Status checkZtunnelLink(const PodLink& link, const IfName& ifname) {
  std::optional<IfName> own;
  if (link.hostMaster && link.hostMaster->kind == "bridge") own = link.hostMaster->name;
  return checkCapturable(link, ifname, own);
}

}  // namespace ambient
