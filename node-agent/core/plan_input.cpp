// The engine's input from the registry. Pure.
#include "node-agent/core/plan_input.h"

namespace ambient {

EnrolledPod enrolledPodOf(const PodRecord& pod) {
  // Decoded once; validatePodRecord held when the record was stored or loaded (value() aborts
  // on a record that skipped it: a bug).
  PodAddresses addresses = podAddresses(pod.ips).value();
  return EnrolledPod{addresses.v4, pod.hostVeth, addresses.v6};
}

namespace {

// Everything but the pods.
Result<PlanInput> nodeInputFrom(const PodRegistry& registry, const AgentRuntimeConfig& config,
                                const std::optional<BridgeAttachment>& ztunnelBridge) {
  if (!registry.ztunnel) {
    return fail(ErrorCode::kUnavailable, "no ztunnel pod is registered on this node yet");
  }
  // validateZtunnelRecord held when the record was stored or loaded: ip and nodeAddr are of
  // one family, and an IPv6 ip is ip6 as well.
  const auto& z = *registry.ztunnel;
  PlanInput in;
  in.tunnelKind = config.tunnelKind;
  in.tunnelPort = config.tunnelPort;
  in.tunnelMtu = config.tunnelMtu;
  in.ztunnel = ZtunnelEndpoint{z.ip.v4(),  z.hostVeth,    z.nodeAddr, z.podIfname,
                               z.lowerMtu, ztunnelBridge, z.ip6};
  in.ipv6Unavailable = config.ipv6Unavailable;
  return in;
}

}  // namespace

Result<PlanInput> planInputFrom(const PodRegistry& registry, const AgentRuntimeConfig& config,
                                const std::optional<BridgeAttachment>& ztunnelBridge) {
  auto in = nodeInputFrom(registry, config, ztunnelBridge);
  if (!in) return in;
  for (const PodRecord* p : registry.enrolled()) in->pods.push_back(enrolledPodOf(*p));
  return in;
}

Result<NodeMode> nodeModeFrom(const PodRegistry& registry, const AgentRuntimeConfig& config,
                              const std::optional<BridgeAttachment>& ztunnelBridge) {
  auto in = nodeInputFrom(registry, config, ztunnelBridge);
  if (!in) return fail(in.error());
  return nodeModeOf(*in);
}

}  // namespace ambient
