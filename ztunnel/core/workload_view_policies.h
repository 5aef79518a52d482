// The view's policy keys (upstream `policies`, Kubernetes-shaped `authorizationPolicies` and
// `peerAuthentications`, `rootNamespace`) to and from JSON, for workload_view_json.cpp; the
// per-policy status entries also for ambientctl. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ztunnel/core/workload_view.h"

namespace zt {

// Decodes each policy on its own: a bad policy is kept as decoded (kInvalid) or, when it has no
// name/namespace to scope it by, named in `rejected`. Returns an error text only when a key has
// the wrong JSON type (not a list), which rejects the whole view as any structural error does.
std::string parseViewPolicies(const nlohmann::json& doc, ViewPolicies& out);

// Writes `policies` (always, as before), and when the view has any policy `rootNamespace`,
// `authorizationPolicies`, `peerAuthentications` as read, plus `policyStatus`.
void renderPolicySources(const ViewPolicies& policies, nlohmann::json& doc);

// One entry per policy with its action/mode, scope and status, for /config_dump.
nlohmann::json renderPolicyStatus(const ViewPolicies& policies);
// One entry of that list: kind, name, namespace, action|mode, scope, status, and when set
// matchLabels, dryRun, reason, l7Fields|portLevelMtls. ambientctl shows the same entries.
nlohmann::json authorizationPolicyStatus(const authz::AuthorizationPolicy& policy);
nlohmann::json peerAuthenticationStatus(const authz::PeerAuthentication& policy);

std::string_view mtlsModeName(authz::MtlsMode mode);  // STRICT, PERMISSIVE, DISABLE, UNSET

std::string_view policyStatusName(authz::PolicyStatus status);

}  // namespace zt
