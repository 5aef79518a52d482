// libFuzzer target: one ambient-cni invocation as the binary runs it (environment + stdin through
// runPlugin(), then the invocation log line), with a fake agent and a fake API lookup whose
// answers also come from the input. Pure.
//
// Checks: stdout is one JSON object (or nothing), error codes match, an ADD's echo is stable, every
// request decodes on the agent's side, and a success was earned (a verdict that answers the
// verb; STATUS and GC only with the agent's answer).
//
// Input: "KEY=VALUE" environment lines, an empty line, the network config (stdin); optionally
// "\n--reply\n" and the agent's reply line (without it the agent is unreachable), and
// "\n--api\n" with {"namespaces":[...],"pods":[...]} for the agent-down API lookup.
#include <nlohmann/json.hpp>

#include "cni-plugin/core/invocation_log.h"
#include "cni-plugin/core/result_convert.h"
#include "cni-plugin/core/run_plugin.h"
#include "common/core/agent_protocol.h"
#include "common/k8s/objects.h"
#include "fuzz_util.h"

namespace {

using namespace ambient;
using namespace ambient::cni;

class FuzzAgent : public AgentClient {
 public:
  std::optional<std::string_view> reply;
  std::vector<PodRequest> sent;
  Result<std::string> ask(const AgentEndpoint&, const std::string& line) override {
    // What the plugin sends, the agent must be able to read.
    auto req = decodeRequest(line);
    fuzz::check(req.has_value());
    sent.push_back(*req);
    if (!reply) return fail(ErrorCode::kUnavailable, "fuzz: agent down");
    return std::string(*reply);
  }
};

class FuzzLookup : public MetadataLookup {
 public:
  std::optional<std::string_view> objects;
  Result<ApiObjects> lookup(const ApiLookupTarget&, const std::string&,
                            const std::string&) override {
    if (!objects) return fail(ErrorCode::kUnavailable, "fuzz: API down");
    auto j = nlohmann::json::parse(*objects, nullptr, false);
    ApiObjects out;
    if (!j.is_object()) return out;
    if (auto it = j.find("namespaces"); it != j.end() && it->is_array())
      for (const auto& o : *it)
        if (auto ns = k8s::parseNamespace(o)) out.namespaces.push_back(*ns);
    if (auto it = j.find("pods"); it != j.end() && it->is_array())
      for (const auto& o : *it)
        if (auto pod = k8s::parsePod(o)) out.pods.push_back(*pod);
    return out;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::asView(data, size);
  FuzzLookup lookup;
  lookup.objects = fuzz::splitAt(text, "\n--api\n");
  FuzzAgent agent;
  agent.reply = fuzz::splitAt(text, "\n--reply\n");
  CniInvocation in;
  std::string_view env = text;
  if (auto body = fuzz::splitAt(env, "\n\n")) in.stdinText = std::string(*body);
  while (!env.empty()) {
    size_t nl = env.find('\n');
    std::string_view line = env.substr(0, nl);
    if (size_t eq = line.find('='); eq != std::string_view::npos)
      in.env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    env = nl == std::string_view::npos ? std::string_view() : env.substr(nl + 1);
  }

  CniOutcome o = runPlugin(in, agent, lookup);
  (void)renderLogLine(o, 1714564800000000, 1234);

  // Whatever happened, stdout is one JSON object and a newline (or nothing for DEL/CHECK/GC).
  fuzz::check(o.exitCode == 0 || o.exitCode == 1);
  if (!o.stdoutText.empty()) {
    fuzz::check(o.stdoutText.back() == '\n');
    auto out = nlohmann::ordered_json::parse(o.stdoutText, nullptr, false);
    fuzz::check(out.is_object());
    if (o.exitCode == 1) fuzz::check(out.value("code", 0u) == o.cniCode && o.cniCode != 0);
    if (o.exitCode == 0 && o.command == "ADD") {
      // The echoed result is already in the request's version: converting again changes nothing.
      auto again = convertResult(out, out.value("cniVersion", ""));
      fuzz::check(again.has_value() && *again == out);
    }
  } else {
    fuzz::check(o.exitCode == 0);
  }

  // At most one request per call, of the invoked verb.
  fuzz::check(agent.sent.size() <= 1);
  for (const auto& req : agent.sent) fuzz::check(podCommandName(req.command) == o.command);
  // A success of a verb that asked the agent is a reply that answers that verb (never a
  // "ready" taken for an ADD, nor an unreachable agent for STATUS).
  if (o.exitCode == 0 && !agent.sent.empty() && o.verdict != "agent-unreachable" &&
      o.verdict != "agent-down-not-ambient") {
    auto r = decodeReply(*agent.reply);
    fuzz::check(r.has_value() && r->verdict != PodVerdict::kError);
    switch (agent.sent[0].command) {
      case PodCommand::kStatus:
        fuzz::check(r->verdict == PodVerdict::kReady);
        break;
      case PodCommand::kAdd:
      case PodCommand::kCheck:
        fuzz::check(r->verdict == PodVerdict::kEnrolled || r->verdict == PodVerdict::kNotAmbient);
        break;
      case PodCommand::kDel:
      case PodCommand::kGc:
        fuzz::check(r->verdict == PodVerdict::kReleased || r->verdict == PodVerdict::kNotAmbient);
        break;
    }
  }
  // STATUS and GC succeed only through the agent.
  if (o.exitCode == 0 && (o.command == "STATUS" || o.command == "GC"))
    fuzz::check(agent.sent.size() == 1);
  return 0;
}
