// The real AgentClient: one connection per request to the agent's Unix socket, with the
// configured timeout on connect, send and receive. Touches sockets.
#pragma once

#include "cni-plugin/core/agent_client.h"

namespace ambient::cni {

class UnixAgentClient : public AgentClient {
 public:
  Result<std::string> ask(const AgentEndpoint& at, const std::string& line) override;
};

}  // namespace ambient::cni
