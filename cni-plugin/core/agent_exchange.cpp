// One checked request/reply with the node agent. Pure.
#include "cni-plugin/core/agent_exchange.h"

namespace ambient::cni {

bool verdictAnswers(PodCommand c, PodVerdict v) {
  if (v == PodVerdict::kError) return true;
  switch (c) {
    case PodCommand::kAdd:
    case PodCommand::kCheck:
      return v == PodVerdict::kEnrolled || v == PodVerdict::kNotAmbient;
    case PodCommand::kDel:
    case PodCommand::kGc:
      return v == PodVerdict::kReleased || v == PodVerdict::kNotAmbient;
    case PodCommand::kStatus:
      return v == PodVerdict::kReady;
  }
  return false;
}

Result<PodReply> exchangeWithAgent(AgentClient& agent, const AgentEndpoint& at,
                                   const PodRequest& req, AgentExchange& seen) {
  std::string line = encodeRequest(req);
  if (line.size() > kMaxMessageBytes)
    return fail(ErrorCode::kInvalidInput,
                "the " + std::string(podCommandName(req.command)) + " request to the agent is " +
                    std::to_string(line.size()) + " bytes, over the protocol's limit of " +
                    std::to_string(kMaxMessageBytes));
  if (!line.empty() && line.back() == '\n') line.pop_back();
  seen.requestLine = line;
  auto reply = agent.ask(at, line);
  if (!reply) {  // whatever kept the line from the agent (no socket, path too long, timeout)
    Error e = reply.error();
    e.code = ErrorCode::kUnavailable;
    return fail(e);
  }
  seen.replyLine = *reply;
  auto r = decodeReply(*reply);
  if (!r) return fail(r.error());
  if (!verdictAnswers(req.command, r->verdict))
    return fail(ErrorCode::kProtocol,
                "agent protocol: verdict \"" + std::string(podVerdictName(r->verdict)) +
                    "\" does not answer " + std::string(podCommandName(req.command)));
  return r;
}

}  // namespace ambient::cni
