// Istio's L4 authorization (AuthorizationPolicy) and mTLS mode (PeerAuthentication) as typed
// values, their JSON decoders, and an indexed evaluator for inbound connections. Pure.
//
// Inputs decoded (ztunnel/core/authz_policy_k8s_json.cpp, authz_policy_local_json.cpp), each
// one policy per call:
//  * decodeAuthorizationPolicy: the Kubernetes object `security.istio.io/v1` (or v1beta1)
//    AuthorizationPolicy as the API server serves it. This is what the agent watches, and the only
//    input that carries what ztunnel must report (L7 fields, AUDIT, CUSTOM, targetRefs, selectors);
//    the conversion into the typed model is the one istiod does for ztunnel
//    (istio/istio pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go).
//  * decodeLocalAuthorization: one element of upstream ztunnel's local-config `policies` list
//    (istio/ztunnel src/rbac.rs `Authorization`), so that a view written for upstream reads here.
//  * decodePeerAuthentication: the `security.istio.io/v1` PeerAuthentication object.
// A bad policy never fails its neighbours: it comes back with status kInvalid and a reason, and
// evaluation fails closed for the workloads it selects (see PolicyStatus).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ztunnel/core/error.h"
#include "ztunnel/core/ip_addr.h"

namespace zt::authz {

inline constexpr std::string_view kDefaultRootNamespace = "istio-system";
// Values (principals, namespaces, IP blocks, ports, ...) one policy may hold; above it the policy
// is invalid (fails closed) instead of costing every connection a long scan.
inline constexpr size_t kMaxPolicyValues = 10000;

using Labels = std::map<std::string, std::string, std::less<>>;

// Istio's string forms: "*" presence (any non-empty value), "x*" prefix, "*x" suffix, else exact.
struct StringMatch {
  enum class Kind { kExact, kPrefix, kSuffix, kPresence };
  Kind kind = Kind::kExact;
  std::string value;

  static StringMatch parseIstio(std::string_view text);
  bool matches(std::string_view candidate) const;
  bool operator==(const StringMatch&) const = default;
};

// A CIDR; a single address is a full-length prefix. IPv4 and IPv6.
struct IpBlock {
  IpAddr base;
  uint8_t prefixLength = 0;

  static Result<IpBlock> parse(std::string_view text);  // "10.0.0.0/8", "10.1.2.3", "fd00::/8"
  bool contains(const IpAddr& ip) const;
  std::string toString() const;
  bool operator==(const IpBlock&) const = default;
};

// One match: every field that is set must hold (AND); within a field any entry may hold (OR),
// within a not-field none may. An empty match never matches (upstream ztunnel's rule).
// Principals are "<trust domain>/ns/<ns>/sa/<sa>" (upstream's form, without "spiffe://").
struct Match {
  std::vector<StringMatch> namespaces, notNamespaces;
  std::vector<StringMatch> principals, notPrincipals;
  std::vector<IpBlock> sourceIps, notSourceIps;
  std::vector<IpBlock> destinationIps, notDestinationIps;
  std::vector<uint16_t> destinationPorts, notDestinationPorts;

  bool empty() const;
  size_t valueCount() const;
};

// A rule matches when every clause matches; a clause when any of its matches does, or when it has
// none. A rule without clauses matches everything (Istio's `rules: [{}]`); upstream's rules.
using Clause = std::vector<Match>;
struct Rule {
  std::vector<Clause> clauses;
};

enum class Action { kAllow, kDeny, kAudit, kCustom };
// kGlobal: every namespace; kNamespace: the policy's namespace; kWorkloadSelector: workloads of
// the policy's namespace whose labels contain matchLabels, or, with no matchLabels, workloads
// that name the policy's key in ConnectionFacts::boundPolicyKeys (upstream's binding).
// matchLabels also narrows kGlobal (a selector policy in the root namespace).
enum class Scope { kGlobal, kNamespace, kWorkloadSelector };

enum class PolicyStatus {
  kOk,
  kPartial,        // L7 fields ignored (l7Fields); enforced as istiod does, never wider
  kInvalid,        // unreadable: ALLOW/DENY/unknown action deny everything in its scope
  kUnsupported,    // CUSTOM: not enforced (upstream ztunnel does not receive it either)
  kNotForZtunnel,  // targetRef(s): enforced by a waypoint, ignored here
};

struct AuthorizationPolicy {
  std::string name;
  std::string ns;
  Scope scope = Scope::kNamespace;
  Labels matchLabels;
  Action action = Action::kAllow;
  std::vector<Rule> rules;  // any rule; none: matches nothing (`spec: {}`)
  bool dryRun = false;      // annotation istio.io/dry-run or upstream `dryRun`: reported only
  PolicyStatus status = PolicyStatus::kOk;
  std::string statusReason;           // for /config_dump and one log line; empty when kOk
  std::vector<std::string> l7Fields;  // sorted, e.g. "methods", "requestPrincipals"

  std::string key() const { return ns + "/" + name; }
  bool enforced() const;  // takes part in evaluation (kOk, kPartial, kInvalid)
};

Result<AuthorizationPolicy> decodeAuthorizationPolicy(
    std::string_view json, std::string_view rootNamespace = kDefaultRootNamespace);
Result<AuthorizationPolicy> decodeLocalAuthorization(std::string_view json);

// What the inbound side knows about a connection. sourcePrincipal is the verified peer identity
// ("td/ns/x/sa/y"), empty for plaintext; `namespaces` match the namespace inside it (as upstream
// does), so a plaintext source has none.
struct ConnectionFacts {
  std::string sourcePrincipal;
  IpAddr sourceIp;
  IpAddr destinationIp;
  uint16_t destinationPort = 0;
  std::string destinationNamespace;
  Labels destinationLabels;
  std::vector<std::string> boundPolicyKeys;  // upstream `authorizationPolicies` of the workload
};

bool matches(const AuthorizationPolicy& policy, const ConnectionFacts& facts);

enum class DecisionReason {
  kNoAllowPolicy,   // allowed: no ALLOW policy applies to the workload
  kAllowMatched,    // allowed by `policy`
  kDenyMatched,     // denied by `policy`
  kInvalidPolicy,   // denied: `policy` is invalid and fails closed
  kNoAllowMatched,  // denied: ALLOW policies apply, none matched
};

// Pointers point into the PolicySet that made the decision.
struct Decision {
  bool allowed = true;
  DecisionReason reason = DecisionReason::kNoAllowPolicy;
  const AuthorizationPolicy* policy = nullptr;
  std::vector<const AuthorizationPolicy*> auditHits;  // AUDIT and dry-run policies that matched
  size_t examined = 0;  // policies looked at: those of the root and destination namespaces
};

std::string_view decisionReasonName(DecisionReason reason);

// Built once per view; evaluation reads only the global bucket, the destination namespace's
// bucket and the workload's bound keys, never unrelated namespaces.
class PolicySet {
 public:
  PolicySet() = default;
  explicit PolicySet(std::vector<AuthorizationPolicy> policies);

  Decision evaluate(const ConnectionFacts& facts) const;
  // The policies that select the destination of `facts` (whether or not they match it), in
  // evaluation order: the global bucket, the namespace's, the workload's bound keys.
  std::vector<const AuthorizationPolicy*> applicable(const ConnectionFacts& facts) const;
  const std::vector<AuthorizationPolicy>& policies() const { return policies_; }

 private:
  template <class Visit>
  void forEachCandidate(const ConnectionFacts& facts, Visit visit) const;

  std::vector<AuthorizationPolicy> policies_;
  std::vector<size_t> global_;
  std::unordered_map<std::string, std::vector<size_t>> byNamespace_;
  std::unordered_map<std::string, size_t> byKey_;  // kWorkloadSelector without matchLabels
};

// PeerAuthentication. DISABLE counts as PERMISSIVE (istiod's ambient conversion treats it so).
enum class MtlsMode { kUnset, kDisable, kPermissive, kStrict };

struct PeerAuthentication {
  std::string name;
  std::string ns;
  Labels matchLabels;  // empty (or no selector): namespace-wide, mesh-wide in the root namespace
  MtlsMode mode = MtlsMode::kUnset;
  std::map<uint16_t, MtlsMode> portLevelMtls;  // workload (target) ports; only with matchLabels
  std::string creationTimestamp;               // RFC 3339 as served; the oldest policy wins
  PolicyStatus status = PolicyStatus::kOk;     // kInvalid: STRICT for its scope; kNotForZtunnel: a
                                               // selector in the root namespace (istiod skips it)
  std::string statusReason;

  std::string key() const { return ns + "/" + name; }
};

Result<PeerAuthentication> decodePeerAuthentication(std::string_view json);

struct PlaintextDecision {
  bool allowed = true;
  MtlsMode effective = MtlsMode::kPermissive;
  const PeerAuthentication* decidedBy = nullptr;  // the last level that set the mode
};

class PeerAuthenticationSet {
 public:
  PeerAuthenticationSet() = default;
  explicit PeerAuthenticationSet(std::vector<PeerAuthentication> policies,
                                 std::string rootNamespace = std::string(kDefaultRootNamespace));

  // Is plaintext (no peer identity) to this workload and port allowed?
  PlaintextDecision plaintextAllowed(std::string_view ns, const Labels& labels,
                                     uint16_t port) const;
  const std::vector<PeerAuthentication>& policies() const { return policies_; }

 private:
  std::vector<PeerAuthentication> policies_;
  std::string rootNamespace_;
  std::unordered_map<std::string, std::vector<size_t>> byNamespace_;
};

}  // namespace zt::authz
