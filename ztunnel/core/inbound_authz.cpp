// Inbound authorization verdicts from the view's policies (see inbound_authz.h). Pure.
#include "ztunnel/core/inbound_authz.h"

namespace zt {
namespace {

constexpr std::string_view kSpiffePrefix = "spiffe://";

const char* verdictReason(authz::DecisionReason r) {
  switch (r) {
    case authz::DecisionReason::kDenyMatched:
      return "deny_policy";
    case authz::DecisionReason::kInvalidPolicy:
      return "invalid_policy";
    case authz::DecisionReason::kNoAllowMatched:
      return "no_allow_match";
    case authz::DecisionReason::kAllowMatched:
      return "allow_policy";
    case authz::DecisionReason::kNoAllowPolicy:
      break;
  }
  return "";
}

}  // namespace

InboundAuthzVerdict computeInboundAuthz(const WorkloadView& view, const Workload* destination,
                                        std::string_view peerSpiffeUri, const IpAddr& sourceIp,
                                        const IpAddr& destinationIp, uint16_t destinationPort,
                                        bool plaintext) {
  InboundAuthzVerdict v;
  if (peerSpiffeUri.starts_with(kSpiffePrefix)) peerSpiffeUri.remove_prefix(kSpiffePrefix.size());
  v.sourcePrincipal = std::string(peerSpiffeUri);
  if (destination == nullptr || view.policies.empty()) return v;
  if (plaintext) {
    authz::PlaintextDecision p = view.policies.peerAuthentication.plaintextAllowed(
        destination->ns, destination->labels, destinationPort);
    if (!p.allowed) {
      v.allowed = false;
      v.reason = "mtls_strict";
      if (p.decidedBy != nullptr) {
        v.policy = p.decidedBy->name;
        v.policyNamespace = p.decidedBy->ns;
      }
      return v;
    }
  }
  authz::ConnectionFacts facts;
  facts.sourcePrincipal = v.sourcePrincipal;
  facts.sourceIp = sourceIp;
  facts.destinationIp = destinationIp;
  facts.destinationPort = destinationPort;
  facts.destinationNamespace = destination->ns;
  facts.destinationLabels = destination->labels;
  facts.boundPolicyKeys = destination->authorizationPolicies;
  authz::Decision d = view.policies.authorization.evaluate(facts);
  for (const authz::AuthorizationPolicy* p : d.auditHits) v.auditHits.push_back(p->key());
  v.allowed = d.allowed;
  v.reason = verdictReason(d.reason);
  if (d.policy != nullptr) {
    v.policy = d.policy->name;
    v.policyNamespace = d.policy->ns;
  }
  return v;
}

}  // namespace zt
