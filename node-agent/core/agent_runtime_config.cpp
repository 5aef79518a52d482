// The agent's resolved settings as JSON. Pure.
#include "node-agent/core/agent_runtime_config.h"

#include <nlohmann/json.hpp>

namespace ambient {

std::string encodeRuntimeConfig(const AgentRuntimeConfig& c) {
  nlohmann::json j = {{"nodeNetns", c.nodeNetns},
                      {"tunnelKind", tunnelKindName(c.tunnelKind)},
                      {"tunnelPort", c.tunnelPort},
                      {"tunnelMtu", c.tunnelMtu}};
  if (c.ipv6Unavailable) j["ipv6Unavailable"] = *c.ipv6Unavailable;
  if (!c.ztunnelView.empty()) j["ztunnelView"] = c.ztunnelView;
  return j.dump(2) + "\n";
}

Result<AgentRuntimeConfig> decodeRuntimeConfig(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kProtocol, "agent runtime config is not a JSON object");
  }
  AgentRuntimeConfig c;
  try {
    c.nodeNetns = j.at("nodeNetns").get<std::string>();
    auto kind = j.at("tunnelKind").get<std::string>();
    if (kind != "geneve" && kind != "vxlan") {
      return fail(ErrorCode::kProtocol, "agent runtime config: tunnel kind \"" + kind + "\"");
    }
    c.tunnelKind = kind == "geneve" ? TunnelKind::kGeneve : TunnelKind::kVxlan;
    c.tunnelPort = j.at("tunnelPort").get<uint16_t>();
    c.tunnelMtu = j.at("tunnelMtu").get<uint32_t>();
    // Absent in files of agents before issue 20's fail-closed IPv6, and when IPv6 is redirected.
    if (auto it = j.find("ipv6Unavailable"); it != j.end()) {
      c.ipv6Unavailable = it->get<std::string>();
    }
    if (auto it = j.find("ztunnelView"); it != j.end()) c.ztunnelView = it->get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kProtocol, std::string("agent runtime config: ") + e.what());
  }
  return c;
}

}  // namespace ambient
