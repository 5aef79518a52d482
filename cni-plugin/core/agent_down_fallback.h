// What ADD does when the node agent cannot be reached and the config names a kubeconfig: look
// the pod's namespace and the pod up in the Kubernetes API and let a pod that is certainly not
// ambient start, while an ambient pod, the ztunnel pod (the agent must learn it) and any pod we
// cannot decide for fail closed. Pure (the lookup is a seam).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cni-plugin/core/metadata_lookup.h"
#include "common/mesh/membership.h"

namespace ambient::cni {

// The network config's fields of the fallback. Without `kubeconfig` it is off: every
// Kubernetes pod's ADD fails closed while the agent is down.
struct FallbackConfig {
  bool enabled = false;
  ApiLookupTarget target;   // kubeconfig, apiTimeoutMs
  MembershipPolicy policy;  // excludeNamespaces, ztunnelNamespace, ztunnelLabel,
                            // ztunnelServiceAccount; defaults are the agent's
};

// Reads `kubeconfig` (string; "" = off), `apiTimeoutMs` (1..60000, default 2000),
// `excludeNamespaces` (array of strings, default ["kube-system"]), `ztunnelNamespace`,
// `ztunnelLabel` ("KEY=VALUE") and `ztunnelServiceAccount` (non-empty strings). Returns "" or
// what is wrong (CNI code 7).
std::string readFallbackConfig(const nlohmann::ordered_json& conf, FallbackConfig& out);

// The verdict of an ADD allowed without the agent, in the invocation log.
inline constexpr const char* kVerdictAgentDownNotAmbient = "agent-down-not-ambient";

struct FallbackDecision {
  bool allow = false;   // true: echo prevResult (the pod is certainly not ambient)
  std::string message;  // allow: the warning for the log; deny: the CNI error's msg
  std::string details;  // deny: the CNI error's details (the agent's and the API's reasons)
};

// `agentSocket` and `agentError` say where and why the agent could not be reached; both go
// into every message. Namespaces excluded by the policy (other than ztunnel's) are decided
// without the API.
FallbackDecision decideWithoutAgent(const ApiLookupTarget& target, const MembershipPolicy& policy,
                                    const std::string& podNamespace, const std::string& podName,
                                    const std::string& agentSocket, const std::string& agentError,
                                    MetadataLookup& lookup);

}  // namespace ambient::cni
