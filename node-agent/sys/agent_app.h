// ambient-agent's two commands as functions: run (serve the plugin, reconcile periodically,
// health and metrics over HTTP) and uninstall. Touches everything the agent touches.
#pragma once

#include "node-agent/core/agent_flags.h"

namespace ambient {

// Returns the process exit code (0 on a normal stop by SIGTERM/SIGINT).
int runAgent(const AgentFlags& flags);
int runUninstall(const AgentFlags& flags);

}  // namespace ambient
