// ambient-agent's command line: subcommand and flags, with defaults and --help text. Pure.
#pragma once

#include <string>
#include <vector>

#include "common/core/compute_plan.h"
#include "common/mesh/membership.h"

namespace ambient {

struct AgentFlags {
  std::string command = "run";  // run | uninstall | help
  std::string socketPath = "/var/run/ambient/agent.sock";
  std::string stateDir = "/var/run/ambient";
  std::string nodeNetns = "/proc/self/ns/net";
  TunnelMode tunnelMode = TunnelMode::kAuto;
  uint16_t tunnelPort = 6081;
  uint32_t tunnelMtu = 0;
  MembershipPolicy policy;
  std::string metadataFile;
  std::string httpAddr = "0.0.0.0:15031";
  int reconcileIntervalSeconds = 60;
  std::string logLevel = "info";

  std::string registryPath() const { return stateDir + "/registry.json"; }
  std::string ledgerPath() const { return stateDir + "/sysctl-ledger.json"; }
};

std::string agentUsage();
// Parses argv (without argv[0]). Errors name the flag and say what is expected.
Result<AgentFlags> parseAgentFlags(const std::vector<std::string>& args);

}  // namespace ambient
