// Inspects a pod's interface through rtnetlink: its veth peer in the node, its default
// gateway and MTU. Touches the kernel.
#pragma once

#include "node-agent/core/agent_ports.h"

namespace ambient {

class NetlinkPodInspector : public PodInspector {
 public:
  explicit NetlinkPodInspector(std::string nodeNetns) : nodeNetns_(std::move(nodeNetns)) {}
  Result<PodLink> inspect(const std::string& netns, const IfName& ifname) override;
  bool netnsGone(const std::string& netns) override;
  Result<std::optional<BridgeAttachment>> bridgeOf(const ZtunnelRecord& ztunnel) override;
  Result<std::map<IfName, std::optional<LinkMaster>>> nodePortMasters() override;

 private:
  std::string nodeNetns_;
};

}  // namespace ambient
