// ambient-cni's verbs as one pure function: parse the network config, decide, ask the agent
// through the AgentClient seam, render the result or CNI error. Pure.
#include "cni-plugin/core/run_plugin.h"

#include <nlohmann/json.hpp>

#include "cni-plugin/core/agent_down_fallback.h"
#include "cni-plugin/core/cni_request.h"
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
  o.stdoutText = errorJson(ver, {code, msg, details}) + "\n";
  o.exitCode = 1;
  o.cniCode = code;
  o.verdict = "error";
  o.error = details.empty() ? msg : msg + " (" + details + ")";
  return o;
}

// Reads our fields of the network config into `o` and `at`; "" or an error for code 7.
// logFile/logLevel of the wrong type are ignored: logging never fails a CNI call.
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
  if (auto it = conf.find("logFile"); it != conf.end() && it->is_string()) o.logFile = *it;
  if (auto it = conf.find("logLevel"); it != conf.end() && it->is_string()) o.logLevel = *it;
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
  if (hasPrev && !prevIt->is_object())
    return failWith(o, ver, kCniErrDecode, "prevResult is not a JSON object");
  if (pc != PodCommand::kDel && !hasPrev)
    return failWith(o, ver, kCniErrInvalidConfig,
                    "ambient-cni must be chained after a plugin that provides prevResult",
                    "put ambient-cni last in the conflist's plugins");
  auto done = [&]() -> CniOutcome& {
    return pc == PodCommand::kAdd ? echoAdd(o, ver, *prevIt) : o;
  };
  auto args = parseCniArgs(envOf(in, "CNI_ARGS"));
  if (!args.count("K8S_POD_NAME") || !args.count("K8S_POD_NAMESPACE")) {
    o.verdict = "passthrough";
    return done();
  }
  o.pod = args["K8S_POD_NAMESPACE"] + "/" + args["K8S_POD_NAME"];
  PodRequest req{.command = pc,
                 .containerId = o.containerId,
                 .netns = envOf(in, "CNI_NETNS"),
                 .ifname = envOf(in, "CNI_IFNAME"),
                 .podNamespace = args["K8S_POD_NAMESPACE"],
                 .podName = args["K8S_POD_NAME"],
                 .podUid = args["K8S_POD_UID"]};
  if (hasPrev) req.ips = podIps(prevIt->dump(), req.ifname);
  o.agentRequest = encodeRequest(req);
  if (!o.agentRequest.empty() && o.agentRequest.back() == '\n') o.agentRequest.pop_back();
  auto reply = agent.ask(at, o.agentRequest);
  if (!reply) {
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
      o.warning = d.message;
      return done();
    }
    return failWith(o, ver, kCniErrTryAgainLater,
                    "ambient node agent unreachable at " + at.socketPath +
                        ": ambient pods cannot start while the node agent is down",
                    reply.error().message());
  }
  o.agentReply = *reply;
  auto r = decodeReply(*reply);
  if (!r)
    return failWith(o, ver, kCniErrDecode, "bad reply from the ambient node agent",
                    r.error().message());
  o.verdict = podVerdictName(r->verdict);
  if (r->verdict == PodVerdict::kError) {
    auto& f = failWith(o, ver, r->cniCode ? r->cniCode : kCniErrTryAgainLater, r->message);
    f.verdict = "error";
    return f;
  }
  return done();
}

}  // namespace

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
    o.stdoutText =
        versionJson(it != conf.end() && it->is_string() ? it->get<std::string>() : "") + "\n";
    o.verdict = "ok";
    return o;
  }
  if (!conf.is_object())
    return failWith(o, "", kCniErrDecode, "network config on stdin is not valid JSON");
  auto verIt = conf.find("cniVersion");
  if (verIt == conf.end() || !verIt->is_string())
    return failWith(o, "", kCniErrIncompatibleVersion, "network config has no cniVersion");
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
    if (o.command == "STATUS") {
      if (auto st = agent.probe(at); !st)
        return failWith(o, ver, kCniErrPluginNotAvailable,
                        "ambient node agent socket " + at.socketPath + " does not answer",
                        st.error().message());
    }
    o.verdict = "ok";
    return o;
  }
  if (o.command != "ADD" && o.command != "DEL" && o.command != "CHECK")
    return failWith(o, ver, kCniErrInvalidEnv, "unknown CNI_COMMAND " + o.command);
  return podVerb(o, in, ver, conf, at, fb, agent, lookup);
}

}  // namespace ambient::cni
