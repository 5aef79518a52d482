// ambient-cni's verbs as one pure function: parse the network config, decide, ask the agent
// through the AgentClient seam, render the result or CNI error. Pure.
#include "cni-plugin/core/run_plugin.h"

#include <nlohmann/json.hpp>

#include "cni-plugin/core/agent_down_fallback.h"
#include "cni-plugin/core/agent_exchange.h"
#include "cni-plugin/core/cni_request.h"
#include "cni-plugin/core/node_verbs.h"
#include "cni-plugin/core/prev_result.h"
#include "cni-plugin/core/result_convert.h"
#include "common/core/agent_protocol.h"

namespace ambient::cni {
namespace {

using json = nlohmann::ordered_json;

std::string envOf(const CniInvocation& in, const char* key) {
  auto it = in.env.find(key);
  return it == in.env.end() ? "" : it->second;
}

CniOutcome& failWith(CniOutcome& o, const std::string& ver, uint32_t code, const std::string& msg,
                     const std::string& details = "") {
  return failOutcome(o, ver, code, msg, details);
}

// Reads our fields of the network config into `o` and `at`; "" or an error for code 7.
// logFile/logLevel of the wrong type are ignored with a warning (in `o.warning`): logging never
// fails a CNI call.
std::string readPluginConfig(const json& conf, AgentEndpoint& at, FallbackConfig& fb,
                             CniOutcome& o) {
  at.socketPath = kDefaultAgentSocket;
  if (auto it = conf.find("agentSocket"); it != conf.end()) {
    if (!it->is_string() || it->get<std::string>().empty())
      return "agentSocket must be a non-empty string (the agent's Unix socket path)";
    at.socketPath = it->get<std::string>();
  }
  if (auto it = conf.find("agentTimeoutMs"); it != conf.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 600000)
      return "agentTimeoutMs must be an integer between 1 and 600000";
    at.timeoutMs = it->get<int>();
  }
  for (auto [key, out] : {std::pair{"logFile", &o.logFile}, std::pair{"logLevel", &o.logLevel}}) {
    auto it = conf.find(key);
    if (it == conf.end()) continue;
    if (it->is_string())
      *out = it->get<std::string>();
    else
      o.warning += std::string(o.warning.empty() ? "" : "; ") + key +
                   " is not a string and was ignored (logging never fails a CNI call)";
  }
  return readFallbackConfig(conf, fb);
}

CniOutcome& echoAdd(CniOutcome& o, const std::string& ver, const json& prev) {
  auto r = convertResult(prev, ver);
  if (!r) return failWith(o, ver, kCniErrDecode, "prevResult cannot be converted", r.error());
  o.stdoutText = r->dump() + "\n";
  return o;
}

CniOutcome& podVerb(CniOutcome& o, const CniInvocation& in, const std::string& ver,
                    const json& conf, const AgentEndpoint& at, const FallbackConfig& fb,
                    AgentClient& agent, MetadataLookup& lookup) {
  PodCommand pc = o.command == "ADD"   ? PodCommand::kAdd
                  : o.command == "DEL" ? PodCommand::kDel
                                       : PodCommand::kCheck;
  if (pc == PodCommand::kCheck && !versionAtLeast(ver, "0.4.0"))
    return failWith(o, ver, kCniErrIncompatibleVersion,
                    "cniVersion " + ver + " does not allow CHECK (needs 0.4.0 or later)");
  for (const char* n : {"CNI_CONTAINERID", "CNI_IFNAME"})
    if (envOf(in, n).empty())
      return failWith(o, ver, kCniErrInvalidEnv, std::string(n) + " is not set");
  if (pc != PodCommand::kDel && envOf(in, "CNI_NETNS").empty())
    return failWith(o, ver, kCniErrInvalidEnv, "CNI_NETNS is not set");
  auto prevIt = conf.find("prevResult");
  bool hasPrev = prevIt != conf.end() && !prevIt->is_null();
  if (pc != PodCommand::kDel && !hasPrev)
    return failWith(o, ver, kCniErrInvalidConfig,
                    "ambient-cni must be chained after a plugin that provides prevResult",
                    "put ambient-cni last in the conflist's plugins");
  auto ifname = IfName::parse(envOf(in, "CNI_IFNAME"), "CNI_IFNAME");
  if (!ifname) return failWith(o, ver, kCniErrInvalidEnv, ifname.error().message());
  PrevResult prev;
  if (hasPrev) {
    auto p = readPrevResult(*prevIt);
    if (!p)
      return failWith(o, ver, kCniErrDecode, "invalid prevResult: " + p.error(),
                      "the plugin before ambient-cni in the conflist produced it: " + p.error());
    prev = std::move(*p);
  }
  auto done = [&]() -> CniOutcome& {
    return pc == PodCommand::kAdd ? echoAdd(o, ver, *prevIt) : o;
  };
  auto args = parseCniArgs(envOf(in, "CNI_ARGS"));
  if (!args) return failWith(o, ver, kCniErrInvalidEnv, args.error());
  if (!args->count("K8S_POD_NAME") || !args->count("K8S_POD_NAMESPACE")) {
    o.verdict = "passthrough";
    return done();
  }
  o.pod = args->at("K8S_POD_NAMESPACE") + "/" + args->at("K8S_POD_NAME");
  auto uid = args->find("K8S_POD_UID");
  // A CNI_IFNAME other than the pod's default interface (Multus) goes to the agent too: the
  // agent decides (it neither enrolls nor releases for a secondary network).
  PodRequest req{.command = pc,
                 .containerId = o.containerId,
                 .netns = envOf(in, "CNI_NETNS"),
                 .ifname = *ifname,
                 .podNamespace = args->at("K8S_POD_NAMESPACE"),
                 .podName = args->at("K8S_POD_NAME"),
                 .podUid = uid == args->end() ? "" : uid->second,
                 .ips = podIps(prev, envOf(in, "CNI_IFNAME"))};
  AgentExchange seen;
  auto reply = exchangeWithAgent(agent, at, req, seen);
  o.agentRequest = seen.requestLine;
  o.agentReply = seen.replyLine;
  if (!reply && reply.error().code == ErrorCode::kInvalidInput)
    return failWith(o, ver, kCniErrInvalidConfig,
                    "ambient-cni: CNI_ARGS, CNI_NETNS, CNI_CONTAINERID or prevResult ips too "
                    "long for the agent protocol",
                    reply.error().message());
  if (!reply && reply.error().code == ErrorCode::kUnavailable) {
    if (pc == PodCommand::kDel) {  // the agent reconciles released pods itself
      o.verdict = "agent-unreachable";
      o.error = reply.error().message();
      return o;
    }
    if (pc == PodCommand::kAdd && fb.enabled) {
      auto d = decideWithoutAgent(fb.target, fb.policy, req.podNamespace, req.podName,
                                  at.socketPath, reply.error().message(), lookup);
      if (!d.allow) return failWith(o, ver, kCniErrTryAgainLater, d.message, d.details);
      o.verdict = kVerdictAgentDownNotAmbient;
      o.warning = d.message + (o.warning.empty() ? "" : "; " + o.warning);
      return done();
    }
    return failWith(o, ver, kCniErrTryAgainLater,
                    "ambient node agent unreachable at " + at.socketPath +
                        ": ambient pods cannot start while the node agent is down",
                    reply.error().message());
  }
  if (!reply)
    return failWith(o, ver, kCniErrDecode, "bad reply from the ambient node agent",
                    reply.error().message());
  const PodReply* r = &*reply;
  o.verdict = podVerdictName(r->verdict);
  if (r->verdict == PodVerdict::kError) {
    auto& f = failWith(o, ver, r->cniCode ? r->cniCode : kCniErrTryAgainLater, r->message);
    f.verdict = "error";
    return f;
  }
  return done();
}

}  // namespace

CniOutcome& failOutcome(CniOutcome& o, const std::string& ver, uint32_t code,
                        const std::string& msg, const std::string& details) {
  o.stdoutText = errorJson(ver, {code, msg, details}) + "\n";
  o.exitCode = 1;
  o.cniCode = code;
  o.verdict = "error";
  o.error = details.empty() ? msg : msg + " (" + details + ")";
  return o;
}

CniOutcome runPlugin(const CniInvocation& in, AgentClient& agent) {
  NoMetadataLookup none;
  return runPlugin(in, agent, none);
}

CniOutcome runPlugin(const CniInvocation& in, AgentClient& agent, MetadataLookup& lookup) {
  CniOutcome o;
  o.command = envOf(in, "CNI_COMMAND");
  o.containerId = envOf(in, "CNI_CONTAINERID");
  if (in.stdinText.size() > kMaxStdinBytes)
    return failWith(o, "", kCniErrDecode, "stdin larger than 1 MiB");
  if (o.command.empty()) return failWith(o, "", kCniErrInvalidEnv, "CNI_COMMAND is not set");
  json conf = json::parse(in.stdinText, nullptr, false);
  if (o.command == "VERSION") {
    auto it = conf.is_object() ? conf.find("cniVersion") : conf.end();
    if (it != conf.end() && !it->is_string())
      return failWith(o, "", kCniErrInvalidConfig, "cniVersion must be a string such as \"1.0.0\"");
    o.stdoutText = versionJson(it != conf.end() ? it->get<std::string>() : "") + "\n";
    o.verdict = "ok";
    return o;
  }
  if (!conf.is_object())
    return failWith(o, "", kCniErrDecode, "network config on stdin is not a JSON object");
  auto verIt = conf.find("cniVersion");
  if (verIt == conf.end())
    return failWith(o, "", kCniErrIncompatibleVersion, "network config has no cniVersion");
  if (!verIt->is_string())
    return failWith(o, "", kCniErrInvalidConfig, "cniVersion must be a string such as \"1.0.0\"");
  const std::string ver = *verIt;
  if (!isSupportedVersion(ver))
    return failWith(o, "", kCniErrIncompatibleVersion, "unsupported cniVersion " + ver,
                    "supported: 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0");
  AgentEndpoint at;
  FallbackConfig fb;
  if (auto bad = readPluginConfig(conf, at, fb, o); !bad.empty())
    return failWith(o, ver, kCniErrInvalidConfig, "ambient-cni config: " + bad);
  if (o.command == "GC" || o.command == "STATUS") {
    if (!versionAtLeast(ver, "1.1.0"))
      return failWith(o, ver, kCniErrIncompatibleVersion,
                      "cniVersion " + ver + " does not allow " + o.command + " (needs 1.1.0)");
    return o.command == "STATUS" ? runStatus(o, ver, at, agent) : runGc(o, ver, conf, at, agent);
  }
  if (o.command != "ADD" && o.command != "DEL" && o.command != "CHECK")
    return failWith(o, ver, kCniErrInvalidEnv, "unknown CNI_COMMAND " + o.command);
  return podVerb(o, in, ver, conf, at, fb, agent, lookup);
}

}  // namespace ambient::cni
