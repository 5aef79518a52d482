// One request to the node agent and its reply, checked: the request fits the protocol's size
// limit, the reply decodes, and its verdict is one the command can get (a "ready" to an ADD or
// an "enrolled" to a DEL is a bad reply, never a success). Pure (the AgentClient is a seam).
#pragma once

#include <string>

#include "cni-plugin/core/agent_client.h"
#include "common/core/agent_protocol.h"

namespace ambient::cni {

struct AgentExchange {
  std::string requestLine;  // what was sent, without its newline (for the debug log)
  std::string replyLine;    // what came back, without its newline
};

// The agent's reply; an error whose code says which way it failed:
//   kInvalidInput  the encoded request is over kMaxMessageBytes (nothing was sent);
//   kUnavailable   the agent could not be reached or did not answer in time;
//   kProtocol      the reply does not decode, or its verdict does not answer this command.
Result<PodReply> exchangeWithAgent(AgentClient& agent, const AgentEndpoint& at,
                                   const PodRequest& req, AgentExchange& seen);

// Whether `v` answers `c`: ADD and CHECK enrolled/not-ambient, DEL and GC released/not-ambient,
// STATUS ready; error answers everything.
bool verdictAnswers(PodCommand c, PodVerdict v);

}  // namespace ambient::cni
