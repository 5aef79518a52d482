// The settings the agent resolved at start (tunnel kind after the probe, port, MTU, node
// namespace, the view file it writes), written next to its registry so that ambientctl computes the
// same plan. Pure.
#pragma once

#include <optional>
#include <string>

#include "common/core/compute_plan.h"
#include "common/core/constants.h"

namespace ambient {

struct AgentRuntimeConfig {
  std::string nodeNetns = "/proc/self/ns/net";
  TunnelKind tunnelKind = TunnelKind::kGeneve;
  uint16_t tunnelPort = kDefaultTunnelPort;
  uint32_t tunnelMtu = 0;
  // Why this node redirects no IPv6 (the start-up probe's finding, or --ipv6=off): enrolled
  // pods' IPv6 TCP is dropped instead (PlanInput::ipv6Unavailable). nullopt: IPv6 redirected.
  std::optional<std::string> ipv6Unavailable;
  // The ztunnel view file the agent writes (--ztunnel-view-file), for ambientctl's policy views;
  // "" when it writes none (no Kubernetes API) or was written by an older agent.
  std::string ztunnelView;
  bool operator==(const AgentRuntimeConfig&) const = default;
};

std::string encodeRuntimeConfig(const AgentRuntimeConfig& c);
Result<AgentRuntimeConfig> decodeRuntimeConfig(std::string_view text);

}  // namespace ambient
