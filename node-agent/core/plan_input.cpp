// The engine's input from the registry. Pure.
#include "node-agent/core/plan_input.h"

namespace ambient {

Result<PlanInput> planInputFrom(const PodRegistry& registry, const AgentRuntimeConfig& config,
                                const std::optional<BridgeAttachment>& ztunnelBridge) {
  if (!registry.ztunnel) {
    return fail(ErrorCode::kUnavailable, "no ztunnel pod is registered on this node yet");
  }
  // The loader and the enroller accept no record without these IPv4 addresses (an in-memory
  // record without them is a bug: value() aborts).
  const auto& z = *registry.ztunnel;
  PlanInput in;
  in.tunnelKind = config.tunnelKind;
  in.tunnelPort = config.tunnelPort;
  in.tunnelMtu = config.tunnelMtu;
  in.ztunnel = ZtunnelEndpoint{z.ip.v4().value(), z.hostVeth, z.nodeAddr.v4().value(),
                               z.podIfname,       z.lowerMtu, ztunnelBridge};
  for (const PodRecord* p : registry.enrolled()) {
    in.pods.push_back(EnrolledPod{firstV4(p->ips).value(), p->hostVeth});
  }
  return in;
}

}  // namespace ambient
