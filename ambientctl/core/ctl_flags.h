// ambientctl's command line (CLI11): the command, its operands and the output flags. Pure.
#pragma once

#include <string>
#include <vector>

#include "common/core/error.h"

namespace ambient {

struct CtlFlags {
  std::string command;       // plan | verify | dump | trace | policies | help
  std::string source;        // trace: a pod's IP or namespace/name (parseTraceEndpoints)
  std::string destination;   // trace: the same, with an optional :PORT or [IPv6]:PORT
  std::string podNamespace;  // policies: the pod
  std::string podName;
  std::string stateDir = "/var/run/ambient";
  std::string
      ztunnelView;  // "": the agent's (agent-config.json), else <state-dir>/ztunnel-config.json
  uint16_t ztunnelAdminPort = 15000;
  bool json = false;
  bool quiet = false;
};

// The --help text, defaults read from CtlFlags{}.
std::string ctlUsage();
// Parses argv (without argv[0]); flags go before or after the command. Errors name the flag
// or the missing command or operand.
Result<CtlFlags> parseCtlFlags(const std::vector<std::string>& args);

}  // namespace ambient
