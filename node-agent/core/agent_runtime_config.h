// The settings the agent resolved at start (tunnel kind after the probe, port, MTU, node
// namespace), written next to its registry so that ambientctl computes the same plan. Pure.
#pragma once

#include <string>

#include "common/core/compute_plan.h"
#include "common/core/constants.h"

namespace ambient {

struct AgentRuntimeConfig {
  std::string nodeNetns = "/proc/self/ns/net";
  TunnelKind tunnelKind = TunnelKind::kGeneve;
  uint16_t tunnelPort = kDefaultTunnelPort;
  uint32_t tunnelMtu = 0;
  bool operator==(const AgentRuntimeConfig&) const = default;
};

std::string encodeRuntimeConfig(const AgentRuntimeConfig& c);
Result<AgentRuntimeConfig> decodeRuntimeConfig(std::string_view text);

}  // namespace ambient
