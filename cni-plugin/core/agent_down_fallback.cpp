// ADD without the node agent: decide from the Kubernetes API whether the pod may start. Pure.
#include "cni-plugin/core/agent_down_fallback.h"

namespace ambient::cni {
namespace {

// Reads an optional non-empty string field into `out`; "" or what is wrong.
std::string readName(const nlohmann::ordered_json& conf, const char* key, std::string& out) {
  auto it = conf.find(key);
  if (it == conf.end()) return "";
  if (!it->is_string() || it->get<std::string>().empty())
    return std::string(key) + " must be a non-empty string";
  out = it->get<std::string>();
  return "";
}

}  // namespace

std::string readFallbackConfig(const nlohmann::ordered_json& conf, FallbackConfig& out) {
  if (auto it = conf.find("kubeconfig"); it != conf.end()) {
    if (!it->is_string()) return "kubeconfig must be a string (the path of a kubeconfig file)";
    out.target.kubeconfig = it->get<std::string>();
    out.enabled = !out.target.kubeconfig.empty();
  }
  if (auto it = conf.find("apiTimeoutMs"); it != conf.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 60000)
      return "apiTimeoutMs must be an integer between 1 and 60000";
    out.target.timeoutMs = it->get<int>();
  }
  if (auto it = conf.find("excludeNamespaces"); it != conf.end()) {
    if (!it->is_array()) return "excludeNamespaces must be a list of namespace names";
    out.policy.excludedNamespaces.clear();
    for (const auto& n : *it) {
      if (!n.is_string() || n.get<std::string>().empty())
        return "excludeNamespaces must be a list of non-empty strings";
      out.policy.excludedNamespaces.insert(n.get<std::string>());
    }
  }
  if (auto bad = readName(conf, "ztunnelNamespace", out.policy.ztunnelNamespace); !bad.empty())
    return bad;
  if (auto bad = readName(conf, "ztunnelServiceAccount", out.policy.ztunnelServiceAccount);
      !bad.empty())
    return bad;
  std::string label;
  if (auto bad = readName(conf, "ztunnelLabel", label); !bad.empty()) return bad;
  if (!label.empty()) {
    auto eq = label.find('=');
    if (eq == std::string::npos || eq == 0)
      return "ztunnelLabel must be KEY=VALUE, not \"" + label + "\"";
    out.policy.ztunnelLabelKey = label.substr(0, eq);
    out.policy.ztunnelLabelValue = label.substr(eq + 1);
  }
  return "";
}

FallbackDecision decideWithoutAgent(const ApiLookupTarget& target, const MembershipPolicy& policy,
                                    const std::string& podNamespace, const std::string& podName,
                                    const std::string& agentSocket, const std::string& agentError,
                                    MetadataLookup& lookup) {
  const std::string pod = podNamespace + "/" + podName;
  const std::string agentDown = "ambient node agent unreachable at " + agentSocket;
  auto allow = [&](const std::string& why) {
    return FallbackDecision{
        true, agentDown + " (" + agentError + "); pod " + pod + " started without it: " + why, ""};
  };
  auto deny = [&](const std::string& msg, const std::string& why) {
    return FallbackDecision{false, agentDown + ": " + msg, "agent: " + agentError + "; " + why};
  };
  if (podNamespace.empty() || podName.empty())
    return deny("CNI_ARGS has an empty K8S_POD_NAMESPACE or K8S_POD_NAME; failing closed",
                "API: not asked");
  // No lookup needed: classifyPod() ignores metadata for these (the ztunnel check comes first).
  if (policy.excludedNamespaces.count(podNamespace) && podNamespace != policy.ztunnelNamespace)
    return allow("namespace " + podNamespace + " is excluded by configuration (not ambient)");

  auto objects = lookup.lookup(target, podNamespace, podName);
  if (!objects)
    return deny("cannot tell whether pod " + pod +
                    " is ambient because the Kubernetes API lookup failed too; failing closed "
                    "(start or fix ambient-agent on the node, or check the kubeconfig " +
                    target.kubeconfig + ")",
                "API: " + objects.error().message());
  MetadataSnapshot snap = snapshotFromApi(*objects, false);
  if (!snap.pod(podNamespace, podName) && podNamespace == policy.ztunnelNamespace)
    return deny("pod " + pod + " is not in the Kubernetes API and may be ztunnel (namespace " +
                    podNamespace + "); failing closed until the agent is back",
                "API: pod not found");
  Membership m = classifyPod(podNamespace, podName, snap, policy);
  switch (m.role) {
    case PodRole::kZtunnel:
      return deny("pod " + pod +
                      " is ztunnel and the node agent must learn it; start ambient-agent on "
                      "the node (the runtime retries)",
                  "API: " + m.reason);
    case PodRole::kAmbient:
      return deny("ambient pod " + pod +
                      " cannot start while the node agent is down; start or fix ambient-agent "
                      "on the node (the runtime retries)",
                  "API: " + m.reason);
    case PodRole::kNotAmbient:
      break;
  }
  return allow(m.reason + " (from the Kubernetes API)");
}

}  // namespace ambient::cni
