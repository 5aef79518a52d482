// The plugin's view of the node agent: one request line in, one reply line out. An interface so
// that runPlugin() stays pure and unit tests can answer with a fake. Pure.
#pragma once

#include <string>

#include "common/core/error.h"

namespace ambient::cni {

// Where the agent listens, from the network config (`agentSocket`, `agentTimeoutMs`).
struct AgentEndpoint {
  std::string socketPath;
  int timeoutMs = 5000;
};

class AgentClient {
 public:
  virtual ~AgentClient() = default;
  // Sends one protocol line, returns the reply line without its newline. kUnavailable when
  // the agent cannot be reached or does not answer in time.
  virtual Result<std::string> ask(const AgentEndpoint& at, const std::string& line) = 0;
};

}  // namespace ambient::cni
