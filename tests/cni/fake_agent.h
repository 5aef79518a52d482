// A scripted AgentClient for unit tests: records every request, answers with a fixed reply
// or "unreachable". Pure.
#pragma once

#include <string>
#include <vector>

#include "cni-plugin/core/agent_client.h"

namespace ambient::cni {

class FakeAgent : public AgentClient {
 public:
  bool up = true;
  std::string reply = R"({"verdict":"enrolled"})";
  std::vector<std::string> requests;
  std::vector<AgentEndpoint> endpoints;

  Result<std::string> ask(const AgentEndpoint& at, const std::string& line) override {
    requests.push_back(line);
    endpoints.push_back(at);
    if (!up) return fail(ErrorCode::kUnavailable, "connect to " + at.socketPath, 111);
    return reply;
  }
};

}  // namespace ambient::cni
