// STATUS and GC of ambient-cni. Pure.
#include "cni-plugin/core/node_verbs.h"

#include "cni-plugin/core/agent_exchange.h"

namespace ambient::cni {

using json = nlohmann::ordered_json;

tl::expected<std::vector<Attachment>, std::string> readValidAttachments(const json& conf) {
  using Err = tl::unexpected<std::string>;
  std::string key = kValidAttachmentsKey;
  auto it = conf.find(key);
  if (it == conf.end()) {
    key = kAttachmentsKeyAlias;
    it = conf.find(key);
  }
  if (it == conf.end())
    return Err(std::string("GC needs ") + kValidAttachmentsKey +
               " (the runtime's list of valid attachments); nothing was released");
  if (!it->is_array()) return Err(key + " must be an array of {containerID, ifname} objects");
  std::vector<Attachment> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    std::string where = key + "[" + std::to_string(i) + "]";
    if (!e.is_object()) return Err(where + " must be an object with containerID and ifname");
    auto id = e.find("containerID");
    if (id == e.end() || !id->is_string() || id->get<std::string>().empty())
      return Err(where + ".containerID must be a non-empty string");
    auto ifname = e.find("ifname");
    if (ifname == e.end() || !ifname->is_string()) return Err(where + ".ifname must be a string");
    auto name = IfName::parse(ifname->get<std::string>(), where + ".ifname");
    if (!name) return Err(name.error().message());
    out.push_back({id->get<std::string>(), *name});
  }
  return out;
}

CniOutcome& runStatus(CniOutcome& o, const std::string& ver, const AgentEndpoint& at,
                      AgentClient& agent) {
  AgentExchange seen;
  auto r = exchangeWithAgent(agent, at, PodRequest{.command = PodCommand::kStatus}, seen);
  o.agentRequest = seen.requestLine;
  o.agentReply = seen.replyLine;
  if (!r && r.error().code == ErrorCode::kUnavailable)
    return failOutcome(o, ver, kCniErrPluginNotAvailable,
                       "ambient node agent unreachable at " + at.socketPath +
                           ": pods cannot be added until it runs (start or fix ambient-agent "
                           "on the node)",
                       r.error().message());
  if (!r)
    return failOutcome(o, ver, kCniErrDecode, "bad STATUS reply from the ambient node agent",
                       r.error().message());
  o.verdict = podVerdictName(r->verdict);
  if (r->verdict == PodVerdict::kError) {
    return failOutcome(o, ver, kCniErrPluginNotAvailable,
                       "ambient node agent is not ready: " +
                           (r->message.empty() ? std::string("no reason given") : r->message));
  }
  return o;
}

CniOutcome& runGc(CniOutcome& o, const std::string& ver, const json& conf, const AgentEndpoint& at,
                  AgentClient& agent) {
  auto list = readValidAttachments(conf);
  if (!list) return failOutcome(o, ver, kCniErrInvalidConfig, "ambient-cni GC: " + list.error());
  AgentExchange seen;
  auto r = exchangeWithAgent(
      agent, at, PodRequest{.command = PodCommand::kGc, .validAttachments = std::move(*list)},
      seen);
  o.agentRequest = seen.requestLine;
  o.agentReply = seen.replyLine;
  if (!r && r.error().code == ErrorCode::kInvalidInput)
    return failOutcome(o, ver, kCniErrInvalidConfig,
                       std::string("ambient-cni GC: ") + kValidAttachmentsKey +
                           " is too long for the agent protocol; nothing was released",
                       r.error().message());
  if (!r && r.error().code == ErrorCode::kUnavailable)
    return failOutcome(o, ver, kCniErrTryAgainLater,
                       "ambient node agent unreachable at " + at.socketPath +
                           ": stale pods are released at the next GC once it runs",
                       r.error().message());
  if (!r)
    return failOutcome(o, ver, kCniErrDecode, "bad GC reply from the ambient node agent",
                       r.error().message());
  o.verdict = podVerdictName(r->verdict);
  if (r->verdict == PodVerdict::kError) {
    failOutcome(o, ver, r->cniCode ? r->cniCode : kCniErrTryAgainLater,
                r->message.empty() ? "ambient node agent: GC failed" : r->message);
    o.verdict = "error";
  }
  return o;
}

}  // namespace ambient::cni
