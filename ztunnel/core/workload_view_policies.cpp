// The view's policy keys to and from JSON (see workload_view_policies.h). Pure.
#include "ztunnel/core/workload_view_policies.h"

namespace zt {
namespace {

using authz::AuthorizationPolicy;
using authz::PeerAuthentication;
using nlohmann::json;

const char* actionName(authz::Action a) {
  switch (a) {
    case authz::Action::kAllow:
      return "ALLOW";
    case authz::Action::kDeny:
      return "DENY";
    case authz::Action::kAudit:
      return "AUDIT";
    case authz::Action::kCustom:
      return "CUSTOM";
  }
  return "?";
}

const char* scopeName(authz::Scope s) {
  switch (s) {
    case authz::Scope::kGlobal:
      return "Global";
    case authz::Scope::kNamespace:
      return "Namespace";
    case authz::Scope::kWorkloadSelector:
      return "WorkloadSelector";
  }
  return "?";
}

}  // namespace

std::string_view mtlsModeName(authz::MtlsMode m) {
  switch (m) {
    case authz::MtlsMode::kUnset:
      return "UNSET";
    case authz::MtlsMode::kDisable:
      return "DISABLE";
    case authz::MtlsMode::kPermissive:
      return "PERMISSIVE";
    case authz::MtlsMode::kStrict:
      return "STRICT";
  }
  return "?";
}

namespace {

// Decodes every element of doc[key] with `decode`; false when doc[key] is present and no list.
template <typename T, typename Decode>
bool decodeList(const json& doc, const char* key, std::vector<T>& out,
                std::vector<std::string>& source, std::vector<std::string>& rejected,
                Decode decode) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (size_t i = 0; i < it->size(); ++i) {
    source.push_back((*it)[i].dump());
    auto decoded = decode(source.back());
    if (decoded)
      out.push_back(std::move(*decoded));
    else
      rejected.push_back(std::string(key) + "[" + std::to_string(i) +
                         "]: " + decoded.error().context);
  }
  return true;
}

}  // namespace

std::string_view policyStatusName(authz::PolicyStatus status) {
  switch (status) {
    case authz::PolicyStatus::kOk:
      return "ok";
    case authz::PolicyStatus::kPartial:
      return "partial";
    case authz::PolicyStatus::kInvalid:
      return "invalid";
    case authz::PolicyStatus::kUnsupported:
      return "unsupported";
    case authz::PolicyStatus::kNotForZtunnel:
      return "not_for_ztunnel";
  }
  return "?";
}

std::string parseViewPolicies(const json& doc, ViewPolicies& out) {
  if (auto it = doc.find("rootNamespace"); it != doc.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().empty())
      return "rootNamespace must be a non-empty string";
    out.rootNamespace = it->get<std::string>();
  }
  std::vector<AuthorizationPolicy> authorization;
  std::vector<PeerAuthentication> peer;
  if (!decodeList(doc, "policies", authorization, out.localSource, out.rejected,
                  [](const std::string& j) { return authz::decodeLocalAuthorization(j); }))
    return "policies must be a list of upstream Authorization objects";
  const std::string root = out.rootNamespace;
  if (!decodeList(
          doc, "authorizationPolicies", authorization, out.authorizationSource, out.rejected,
          [&root](const std::string& j) { return authz::decodeAuthorizationPolicy(j, root); }))
    return "authorizationPolicies must be a list of security.istio.io AuthorizationPolicy objects";
  if (!decodeList(doc, "peerAuthentications", peer, out.peerSource, out.rejected,
                  [](const std::string& j) { return authz::decodePeerAuthentication(j); }))
    return "peerAuthentications must be a list of security.istio.io PeerAuthentication objects";
  out.authorization = authz::PolicySet(std::move(authorization));
  out.peerAuthentication = authz::PeerAuthenticationSet(std::move(peer), out.rootNamespace);
  return {};
}

void renderPolicySources(const ViewPolicies& policies, json& doc) {
  auto list = [](const std::vector<std::string>& source) {
    json out = json::array();
    for (const std::string& text : source) out.push_back(json::parse(text));
    return out;
  };
  doc["policies"] = list(policies.localSource);
  if (policies.empty()) return;
  doc["rootNamespace"] = policies.rootNamespace;
  doc["authorizationPolicies"] = list(policies.authorizationSource);
  doc["peerAuthentications"] = list(policies.peerSource);
  doc["policyStatus"] = renderPolicyStatus(policies);
}

json authorizationPolicyStatus(const AuthorizationPolicy& p) {
  json o = {{"kind", "AuthorizationPolicy"},
            {"name", p.name},
            {"namespace", p.ns},
            {"action", actionName(p.action)},
            {"scope", scopeName(p.scope)},
            {"status", policyStatusName(p.status)}};
  if (!p.matchLabels.empty()) o["matchLabels"] = p.matchLabels;
  if (p.dryRun) o["dryRun"] = true;
  if (!p.statusReason.empty()) o["reason"] = p.statusReason;
  if (!p.l7Fields.empty()) o["l7Fields"] = p.l7Fields;
  return o;
}

json peerAuthenticationStatus(const PeerAuthentication& p) {
  json o = {{"kind", "PeerAuthentication"},
            {"name", p.name},
            {"namespace", p.ns},
            {"mode", mtlsModeName(p.mode)},
            {"status", policyStatusName(p.status)}};
  if (!p.matchLabels.empty()) o["matchLabels"] = p.matchLabels;
  if (!p.portLevelMtls.empty()) {
    o["portLevelMtls"] = json::object();
    for (auto [port, mode] : p.portLevelMtls)
      o["portLevelMtls"][std::to_string(port)] = mtlsModeName(mode);
  }
  if (!p.statusReason.empty()) o["reason"] = p.statusReason;
  return o;
}

json renderPolicyStatus(const ViewPolicies& policies) {
  json list = json::array();
  for (const AuthorizationPolicy& p : policies.authorization.policies())
    list.push_back(authorizationPolicyStatus(p));
  for (const PeerAuthentication& p : policies.peerAuthentication.policies())
    list.push_back(peerAuthenticationStatus(p));
  for (const std::string& r : policies.rejected)
    list.push_back({{"kind", "rejected"}, {"status", "rejected"}, {"reason", r}});
  return list;
}

}  // namespace zt
