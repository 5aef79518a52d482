// The engine's input from the registry. Pure.
#include "node-agent/core/plan_input.h"

namespace ambient {

Result<PlanInput> planInputFrom(const PodRegistry& registry, const AgentRuntimeConfig& config) {
  if (!registry.ztunnel) {
    return fail(ErrorCode::kUnavailable, "no ztunnel pod is registered on this node yet");
  }
  const auto& z = *registry.ztunnel;
  auto ip = Ipv4::parse(z.ip);
  if (!ip) return fail(ip.error().wrap("ztunnel record"));
  auto gw = Ipv4::parse(z.nodeAddr);
  if (!gw) return fail(gw.error().wrap("ztunnel record"));
  PlanInput in;
  in.tunnelKind = config.tunnelKind;
  in.tunnelPort = config.tunnelPort;
  in.tunnelMtu = config.tunnelMtu;
  in.ztunnel = ZtunnelEndpoint{*ip, z.hostVeth, *gw, z.podIfname, z.lowerMtu};
  for (const PodRecord* p : registry.enrolled()) {
    if (p->ips.empty())
      return fail(ErrorCode::kInvalidInput,
                  "pod " + p->podNamespace + "/" + p->name + " is enrolled without an IP address");
    auto pip = Ipv4::parse(p->ips.front());
    if (!pip) return fail(pip.error().wrap("pod " + p->podNamespace + "/" + p->name));
    in.pods.push_back(EnrolledPod{*pip, p->hostVeth});
  }
  return in;
}

}  // namespace ambient
