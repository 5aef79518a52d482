// Matching and evaluation of L4 authorization and PeerAuthentication policies. Pure.
#include "ztunnel/core/authz_policy.h"

#include <algorithm>
#include <charconv>
#include <tuple>

namespace zt::authz {
namespace {

// "td/ns/<ns>/sa/<sa>" -> "<ns>"; anything else -> "".
std::string_view namespaceOfPrincipal(std::string_view principal) {
  size_t start = principal.find("/ns/");
  if (start == std::string_view::npos) return {};
  start += 4;
  size_t end = principal.find("/sa/", start);
  if (end == std::string_view::npos) return {};
  return principal.substr(start, end - start);
}

// Any positive entry must hold (when there are some), and no negative one.
template <class T, class Pred>
bool fieldHolds(const std::vector<T>& positive, const std::vector<T>& negative, Pred pred) {
  if (!positive.empty() && std::none_of(positive.begin(), positive.end(), pred)) return false;
  return std::none_of(negative.begin(), negative.end(), pred);
}

bool matchHolds(const Match& m, const ConnectionFacts& f, std::string_view sourceNs) {
  // An absent identity or namespace matches no pattern, not even "*" (upstream: rbac.rs).
  auto nsPred = [&](const StringMatch& s) { return !sourceNs.empty() && s.matches(sourceNs); };
  auto principalPred = [&](const StringMatch& s) {
    return !f.sourcePrincipal.empty() && s.matches(f.sourcePrincipal);
  };
  auto srcPred = [&](const IpBlock& b) { return b.contains(f.sourceIp); };
  auto dstPred = [&](const IpBlock& b) { return b.contains(f.destinationIp); };
  auto portPred = [&](uint16_t p) { return p == f.destinationPort; };
  return !m.empty() && fieldHolds(m.namespaces, m.notNamespaces, nsPred) &&
         fieldHolds(m.principals, m.notPrincipals, principalPred) &&
         fieldHolds(m.sourceIps, m.notSourceIps, srcPred) &&
         fieldHolds(m.destinationIps, m.notDestinationIps, dstPred) &&
         fieldHolds(m.destinationPorts, m.notDestinationPorts, portPred);
}

bool labelsContain(const Labels& selector, const Labels& labels) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

bool applies(const AuthorizationPolicy& p, const ConnectionFacts& f) {
  switch (p.scope) {
    case Scope::kGlobal:
      return labelsContain(p.matchLabels, f.destinationLabels);
    case Scope::kNamespace:
      return p.ns == f.destinationNamespace;
    case Scope::kWorkloadSelector:
      // Without labels the policy is reached only through the workload's bound keys.
      return p.matchLabels.empty() ||
             (p.ns == f.destinationNamespace && labelsContain(p.matchLabels, f.destinationLabels));
  }
  return false;
}

}  // namespace

StringMatch StringMatch::parseIstio(std::string_view text) {
  if (text == "*") return {Kind::kPresence, ""};
  if (!text.empty() && text.front() == '*') return {Kind::kSuffix, std::string(text.substr(1))};
  if (!text.empty() && text.back() == '*')
    return {Kind::kPrefix, std::string(text.substr(0, text.size() - 1))};
  return {Kind::kExact, std::string(text)};
}

bool StringMatch::matches(std::string_view candidate) const {
  switch (kind) {
    case Kind::kExact:
      return candidate == value;
    case Kind::kPrefix:
      return candidate.substr(0, value.size()) == value;
    case Kind::kSuffix:
      return candidate.size() >= value.size() &&
             candidate.substr(candidate.size() - value.size()) == value;
    case Kind::kPresence:
      return !candidate.empty();
  }
  return false;
}

Result<IpBlock> IpBlock::parse(std::string_view text) {
  size_t slash = text.find('/');
  auto base = IpAddr::parse(text.substr(0, slash));
  if (!base) return fail(ErrorCode::kInvalidInput, "bad IP block '" + std::string(text) + "'");
  unsigned maxLength = base->v6 ? 128 : 32;
  unsigned length = maxLength;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        length > maxLength) {
      return fail(ErrorCode::kInvalidInput,
                  "bad prefix length in IP block '" + std::string(text) + "'");
    }
  }
  return IpBlock{*base, static_cast<uint8_t>(length)};
}

bool IpBlock::contains(const IpAddr& ip) const {
  if (ip.v6 != base.v6) return false;
  unsigned full = prefixLength / 8;
  if (!std::equal(base.bytes.begin(), base.bytes.begin() + full, ip.bytes.begin())) return false;
  unsigned rest = prefixLength % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (base.bytes[full] & mask) == (ip.bytes[full] & mask);
}

std::string IpBlock::toString() const {
  return base.toString() + "/" + std::to_string(prefixLength);
}

bool Match::empty() const {
  return valueCount() == 0;
}

size_t Match::valueCount() const {
  return namespaces.size() + notNamespaces.size() + principals.size() + notPrincipals.size() +
         sourceIps.size() + notSourceIps.size() + destinationIps.size() + notDestinationIps.size() +
         destinationPorts.size() + notDestinationPorts.size();
}

bool AuthorizationPolicy::enforced() const {
  return status == PolicyStatus::kOk || status == PolicyStatus::kPartial ||
         status == PolicyStatus::kInvalid;
}

bool matches(const AuthorizationPolicy& policy, const ConnectionFacts& facts) {
  std::string_view sourceNs = namespaceOfPrincipal(facts.sourcePrincipal);
  return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const Rule& rule) {
    return std::all_of(rule.clauses.begin(), rule.clauses.end(), [&](const Clause& clause) {
      return clause.empty() || std::any_of(clause.begin(), clause.end(), [&](const Match& m) {
               return matchHolds(m, facts, sourceNs);
             });
    });
  });
}

std::string_view decisionReasonName(DecisionReason reason) {
  switch (reason) {
    case DecisionReason::kNoAllowPolicy:
      return "no_allow_policy";
    case DecisionReason::kAllowMatched:
      return "allow_matched";
    case DecisionReason::kDenyMatched:
      return "deny_matched";
    case DecisionReason::kInvalidPolicy:
      return "invalid_policy";
    case DecisionReason::kNoAllowMatched:
      return "no_allow_matched";
  }
  return "unknown";
}

PolicySet::PolicySet(std::vector<AuthorizationPolicy> policies) : policies_(std::move(policies)) {
  for (size_t i = 0; i < policies_.size(); ++i) {
    const AuthorizationPolicy& p = policies_[i];
    if (!p.enforced()) continue;
    if (p.scope == Scope::kGlobal) {
      global_.push_back(i);
    } else if (p.scope == Scope::kWorkloadSelector && p.matchLabels.empty()) {
      byKey_[p.key()] = i;
    } else {
      byNamespace_[p.ns].push_back(i);
    }
  }
}

template <class Visit>
void PolicySet::forEachCandidate(const ConnectionFacts& facts, Visit visit) const {
  for (size_t i : global_) visit(i);
  if (auto it = byNamespace_.find(facts.destinationNamespace); it != byNamespace_.end()) {
    for (size_t i : it->second) visit(i);
  }
  for (const std::string& key : facts.boundPolicyKeys) {
    if (auto it = byKey_.find(key); it != byKey_.end()) visit(it->second);
  }
}

std::vector<const AuthorizationPolicy*> PolicySet::applicable(const ConnectionFacts& facts) const {
  std::vector<const AuthorizationPolicy*> out;
  forEachCandidate(facts, [&](size_t i) {
    if (applies(policies_[i], facts)) out.push_back(&policies_[i]);
  });
  return out;
}

// Istio's order: DENY first (an invalid policy counts as a matching DENY), then if any ALLOW
// policy applies one must match, else allow. AUDIT and dry-run policies are only recorded.
Decision PolicySet::evaluate(const ConnectionFacts& facts) const {
  Decision d;
  const AuthorizationPolicy* deny = nullptr;
  const AuthorizationPolicy* invalid = nullptr;
  const AuthorizationPolicy* allow = nullptr;
  bool anyAllow = false;
  auto visit = [&](size_t index) {
    const AuthorizationPolicy& p = policies_[index];
    ++d.examined;
    if (!applies(p, facts)) return;
    bool reportOnly = p.dryRun || p.action == Action::kAudit;
    if (p.status == PolicyStatus::kInvalid) {
      if (!reportOnly && invalid == nullptr) invalid = &p;
      return;
    }
    bool hit = matches(p, facts);
    if (reportOnly) {
      if (hit) d.auditHits.push_back(&p);
    } else if (p.action == Action::kDeny) {
      if (hit && deny == nullptr) deny = &p;
    } else {
      anyAllow = true;
      if (hit && allow == nullptr) allow = &p;
    }
  };
  forEachCandidate(facts, visit);
  if (deny != nullptr || invalid != nullptr) {
    d.allowed = false;
    d.reason = deny != nullptr ? DecisionReason::kDenyMatched : DecisionReason::kInvalidPolicy;
    d.policy = deny != nullptr ? deny : invalid;
  } else if (allow != nullptr) {
    d.reason = DecisionReason::kAllowMatched;
    d.policy = allow;
  } else if (anyAllow) {
    d.allowed = false;
    d.reason = DecisionReason::kNoAllowMatched;
  }
  return d;
}

PeerAuthenticationSet::PeerAuthenticationSet(std::vector<PeerAuthentication> policies,
                                             std::string rootNamespace)
    : policies_(std::move(policies)), rootNamespace_(std::move(rootNamespace)) {
  for (size_t i = 0; i < policies_.size(); ++i) {
    PeerAuthentication& p = policies_[i];
    if (p.ns == rootNamespace_ && !p.matchLabels.empty() && p.status != PolicyStatus::kInvalid) {
      p.status = PolicyStatus::kNotForZtunnel;
      p.statusReason = "a selector in the root namespace is not applied in ambient mode";
      continue;
    }
    byNamespace_[p.ns].push_back(i);
  }
}

// istiod's resolution for ambient (convertedSelectorPeerAuthentications): the oldest policy of
// each level counts; mesh (root namespace, no selector) < namespace < workload (selector) < port.
// UNSET inherits; DISABLE acts as PERMISSIVE. An invalid policy of any level makes it STRICT.
PlaintextDecision PeerAuthenticationSet::plaintextAllowed(std::string_view ns, const Labels& labels,
                                                          uint16_t port) const {
  const PeerAuthentication* mesh = nullptr;
  const PeerAuthentication* nsLevel = nullptr;
  const PeerAuthentication* workload = nullptr;
  const PeerAuthentication* invalid = nullptr;
  auto older = [](const PeerAuthentication* a, const PeerAuthentication* b) {
    return b == nullptr || std::tie(a->creationTimestamp, a->ns, a->name) <
                               std::tie(b->creationTimestamp, b->ns, b->name);
  };
  auto scan = [&](std::string_view bucket, bool isRoot) {
    auto it = byNamespace_.find(std::string(bucket));
    if (it == byNamespace_.end()) return;
    for (size_t i : it->second) {
      const PeerAuthentication& p = policies_[i];
      const PeerAuthentication** level = nullptr;
      if (p.matchLabels.empty()) {
        level = isRoot ? &mesh : &nsLevel;
      } else if (!isRoot && labelsContain(p.matchLabels, labels)) {
        level = &workload;
      }
      if (level == nullptr) continue;
      if (p.status == PolicyStatus::kInvalid) {
        if (invalid == nullptr) invalid = &p;
      } else if (older(&p, *level)) {
        *level = &p;
      }
    }
  };
  scan(rootNamespace_, true);
  if (ns != rootNamespace_) scan(ns, false);

  PlaintextDecision d;
  if (invalid != nullptr) {
    return {false, MtlsMode::kStrict, invalid};
  }
  bool strict = false;
  auto apply = [&](MtlsMode mode, const PeerAuthentication* p) {
    if (mode == MtlsMode::kUnset) return;
    strict = mode == MtlsMode::kStrict;
    d.decidedBy = p;
  };
  if (mesh != nullptr) apply(mesh->mode, mesh);
  if (nsLevel != nullptr) apply(nsLevel->mode, nsLevel);
  if (workload != nullptr) {
    apply(workload->mode, workload);
    if (auto it = workload->portLevelMtls.find(port); it != workload->portLevelMtls.end())
      apply(it->second, workload);
  }
  d.allowed = !strict;
  d.effective = strict ? MtlsMode::kStrict : MtlsMode::kPermissive;
  return d;
}

}  // namespace zt::authz
