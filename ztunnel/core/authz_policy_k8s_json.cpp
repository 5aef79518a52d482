// JSON -> typed AuthorizationPolicy / PeerAuthentication from Kubernetes objects
// (security.istio.io/v1 and v1beta1). Pure; nlohmann's exceptions stay inside this file. A policy
// that can be named but not read comes back kInvalid with the reason; only an unnamed one is an
// error.
#include <charconv>
#include <optional>
#include <set>

#include "ztunnel/core/authz_json_decode.h"
#include "ztunnel/core/authz_policy.h"

namespace zt::authz {
namespace {

using namespace json_decode;  // NOLINT(google-build-using-namespace): this file's own helpers

std::vector<std::string> strings(const json& o, const char* key, const std::string& where,
                                 Budget& budget) {
  const json* v = field(o, key);
  if (v == nullptr) return {};
  std::string w = where + "." + key;
  if (!v->is_array()) bad(w + ": must be a list of strings");
  budget.take(v->size(), w);
  std::vector<std::string> out;
  out.reserve(v->size());
  for (const json& s : *v) {
    if (!s.is_string()) bad(w + ": must be a list of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::vector<StringMatch> istioMatches(const std::vector<std::string>& values) {
  std::vector<StringMatch> out;
  out.reserve(values.size());
  for (const std::string& v : values) out.push_back(StringMatch::parseIstio(v));
  return out;
}

std::vector<IpBlock> ipBlocks(const std::vector<std::string>& values, const std::string& where) {
  std::vector<IpBlock> out;
  for (const std::string& v : values) {
    auto block = IpBlock::parse(v);
    if (!block) bad(where + ": " + block.error().context);
    out.push_back(*block);
  }
  return out;
}

std::vector<uint16_t> ports(const std::vector<std::string>& values, const std::string& where) {
  std::vector<uint16_t> out;
  for (const std::string& v : values) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || port > 65535)
      bad(where + ": bad port '" + v + "'");
    out.push_back(static_cast<uint16_t>(port));
  }
  return out;
}

// A service account "ns/sa" (or "sa" in the policy's namespace) is the principal suffix
// "/ns/<ns>/sa/<sa>": any trust domain, as upstream's ServiceAccountMatch.
std::vector<StringMatch> serviceAccounts(const std::vector<std::string>& values,
                                         const std::string& policyNs) {
  std::vector<StringMatch> out;
  for (const std::string& v : values) {
    size_t slash = v.find('/');
    std::string ns = slash == std::string::npos ? policyNs : v.substr(0, slash);
    std::string sa = slash == std::string::npos ? v : v.substr(slash + 1);
    out.push_back({StringMatch::Kind::kSuffix, "/ns/" + ns + "/sa/" + sa});
  }
  return out;
}

Labels matchLabels(const json& selector, const std::string& where) {
  checkKeys(selector, {"matchLabels"}, where);
  Labels labels;
  if (const json* m = field(selector, "matchLabels")) {
    if (!m->is_object()) bad(where + ".matchLabels: must be an object of strings");
    for (auto it = m->begin(); it != m->end(); ++it) {
      if (!it->is_string()) bad(where + ".matchLabels." + it.key() + ": must be a string");
      labels[it.key()] = it->get<std::string>();
    }
  }
  return labels;
}

// Records the L7 fields `o` sets; true when it sets any.
bool noteL7(const json& o, std::initializer_list<const char*> keys, std::set<std::string>& l7,
            const std::string& where, Budget& budget) {
  bool found = false;
  for (const char* key : keys) {
    if (!strings(o, key, where, budget).empty()) {
      l7.insert(key);
      found = true;
    }
  }
  return found;
}

// Appends `clause` unless an entry matched everything (a DENY entry left with L7 fields only).
void addClause(Rule& rule, Clause clause, bool matchesAll) {
  if (!matchesAll && !clause.empty()) rule.clauses.push_back(std::move(clause));
}

// One `rules[]` entry as istiod converts it for ztunnel: a clause for `to`, one for `from`, one
// per `when`. With L7 fields an ALLOW (or AUDIT) rule is dropped (it can never match); a DENY rule
// keeps its L4 part, and an entry with L7 fields only matches everything.
std::optional<Rule> decodeRule(const json& r, const std::string& where, AuthorizationPolicy& p,
                               std::set<std::string>& l7, Budget& budget) {
  checkKeys(r, {"from", "to", "when"}, where);
  Rule rule;
  bool anyL7 = false;
  auto entries = [&](const char* key) {
    const json* list = field(r, key);
    if (list != nullptr && !list->is_array()) bad(where + "." + key + ": must be a list");
    return list;
  };
  if (const json* to = entries("to")) {
    Clause clause;
    bool matchesAll = false;
    for (size_t i = 0; i < to->size(); ++i) {
      std::string w = where + ".to[" + std::to_string(i) + "]";
      checkKeys((*to)[i], {"operation"}, w);
      const json* op = field((*to)[i], "operation");
      if (op == nullptr) bad(w + ": missing 'operation'");
      w += ".operation";
      checkKeys(
          *op,
          {"hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"},
          w);
      Match m;
      m.destinationPorts = ports(strings(*op, "ports", w, budget), w);
      m.notDestinationPorts = ports(strings(*op, "notPorts", w, budget), w);
      bool l7Here = noteL7(*op, {"hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"},
                           l7, w, budget);
      if (m.empty() && !l7Here) bad(w + ": must not be empty");
      anyL7 = anyL7 || l7Here;
      if (m.empty()) matchesAll = true;
      clause.push_back(std::move(m));
    }
    addClause(rule, std::move(clause), matchesAll);
  }
  if (const json* from = entries("from")) {
    Clause clause;
    bool matchesAll = false;
    for (size_t i = 0; i < from->size(); ++i) {
      std::string w = where + ".from[" + std::to_string(i) + "]";
      checkKeys((*from)[i], {"source"}, w);
      const json* src = field((*from)[i], "source");
      if (src == nullptr) bad(w + ": missing 'source'");
      w += ".source";
      checkKeys(*src,
                {"principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals",
                 "namespaces", "notNamespaces", "ipBlocks", "notIpBlocks", "remoteIpBlocks",
                 "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts"},
                w);
      Match m;
      m.principals = istioMatches(strings(*src, "principals", w, budget));
      m.notPrincipals = istioMatches(strings(*src, "notPrincipals", w, budget));
      for (auto& sa : serviceAccounts(strings(*src, "serviceAccounts", w, budget), p.ns))
        m.principals.push_back(std::move(sa));
      for (auto& sa : serviceAccounts(strings(*src, "notServiceAccounts", w, budget), p.ns))
        m.notPrincipals.push_back(std::move(sa));
      m.namespaces = istioMatches(strings(*src, "namespaces", w, budget));
      m.notNamespaces = istioMatches(strings(*src, "notNamespaces", w, budget));
      m.sourceIps = ipBlocks(strings(*src, "ipBlocks", w, budget), w + ".ipBlocks");
      m.notSourceIps = ipBlocks(strings(*src, "notIpBlocks", w, budget), w + ".notIpBlocks");
      // remoteIpBlocks come from X-Forwarded-For or PROXY protocol: istiod treats them as HTTP.
      bool l7Here = noteL7(
          *src,
          {"requestPrincipals", "notRequestPrincipals", "remoteIpBlocks", "notRemoteIpBlocks"}, l7,
          w, budget);
      if (m.empty() && !l7Here) bad(w + ": must not be empty");
      anyL7 = anyL7 || l7Here;
      if (m.empty()) matchesAll = true;
      clause.push_back(std::move(m));
    }
    addClause(rule, std::move(clause), matchesAll);
  }
  if (const json* when = entries("when")) {
    for (size_t i = 0; i < when->size(); ++i) {
      std::string w = where + ".when[" + std::to_string(i) + "]";
      const json& c = (*when)[i];
      checkKeys(c, {"key", "values", "notValues"}, w);
      const json* key = field(c, "key");
      if (key == nullptr || !key->is_string()) bad(w + ": 'key' must be a string");
      std::string k = key->get<std::string>();
      auto values = strings(c, "values", w, budget);
      auto notValues = strings(c, "notValues", w, budget);
      if (values.empty() && notValues.empty()) bad(w + ": needs values or notValues");
      Match m;
      if (k == "source.ip") {
        m.sourceIps = ipBlocks(values, w);
        m.notSourceIps = ipBlocks(notValues, w);
      } else if (k == "source.namespace") {
        m.namespaces = istioMatches(values);
        m.notNamespaces = istioMatches(notValues);
      } else if (k == "source.principal") {
        m.principals = istioMatches(values);
        m.notPrincipals = istioMatches(notValues);
      } else if (k == "destination.ip") {
        m.destinationIps = ipBlocks(values, w);
        m.notDestinationIps = ipBlocks(notValues, w);
      } else if (k == "destination.port") {
        m.destinationPorts = ports(values, w);
        m.notDestinationPorts = ports(notValues, w);
      } else {
        l7.insert("when:" + k);
        anyL7 = true;
        continue;  // DENY: this condition holds for every connection
      }
      rule.clauses.push_back(Clause{std::move(m)});
    }
  }
  if (anyL7 && p.action != Action::kDeny) return std::nullopt;
  return rule;
}

// Top-level fields of a Kubernetes object of `kind`; returns its metadata.
const json& checkObject(const json& doc, std::string_view kind) {
  checkKeys(doc, {"apiVersion", "kind", "metadata", "spec", "status"}, std::string(kind));
  if (const json* v = field(doc, "apiVersion")) {
    if (*v != "security.istio.io/v1" && *v != "security.istio.io/v1beta1")
      bad("apiVersion: expected security.istio.io/v1 or v1beta1");
  }
  if (const json* k = field(doc, "kind"); k != nullptr && *k != kind)
    bad("kind: expected " + std::string(kind));
  return doc.at("metadata");
}

void decodeSpec(const json& doc, AuthorizationPolicy& p, std::string_view rootNamespace) {
  const json& meta = checkObject(doc, "AuthorizationPolicy");
  if (const json* ann = field(meta, "annotations")) {
    if (const json* dry = ann->is_object() ? field(*ann, "istio.io/dry-run") : nullptr)
      p.dryRun = *dry == "true";
  }
  const json* spec = field(doc, "spec");
  if (spec == nullptr) return;  // as `spec: {}`
  checkKeys(*spec, {"selector", "targetRef", "targetRefs", "action", "provider", "rules"}, "spec");
  if (field(*spec, "targetRef") != nullptr || field(*spec, "targetRefs") != nullptr) {
    p.status = PolicyStatus::kNotForZtunnel;
    p.statusReason = "targetRefs: enforced by a waypoint, not by ztunnel";
    return;
  }
  if (const json* sel = field(*spec, "selector")) {
    p.matchLabels = matchLabels(*sel, "spec.selector");
    if (!p.matchLabels.empty() && p.ns != rootNamespace) p.scope = Scope::kWorkloadSelector;
  }
  std::string action = "ALLOW";
  if (const json* a = field(*spec, "action")) {
    if (!a->is_string()) bad("spec.action: must be a string");
    if (!a->get<std::string>().empty()) action = a->get<std::string>();
  }
  if (action == "CUSTOM") {
    p.action = Action::kCustom;
    p.status = PolicyStatus::kUnsupported;
    p.statusReason = "ztunnel does not support the CUSTOM action; the policy is not enforced";
    return;
  }
  if (action != "ALLOW" && action != "DENY" && action != "AUDIT")
    bad("spec.action: unknown value '" + action + "'");
  p.action = action == "DENY" ? Action::kDeny : action == "AUDIT" ? Action::kAudit : Action::kAllow;
  const json* rules = field(*spec, "rules");
  if (rules == nullptr) return;
  if (!rules->is_array()) bad("spec.rules: must be a list");
  std::set<std::string> l7;
  Budget budget;
  for (size_t i = 0; i < rules->size(); ++i) {
    auto rule = decodeRule((*rules)[i], "spec.rules[" + std::to_string(i) + "]", p, l7, budget);
    if (rule) p.rules.push_back(std::move(*rule));
  }
  if (l7.empty()) return;
  p.l7Fields.assign(l7.begin(), l7.end());
  p.status = PolicyStatus::kPartial;
  std::string list;
  for (const std::string& f : p.l7Fields) list += (list.empty() ? "" : ", ") + f;
  p.statusReason =
      "ztunnel cannot evaluate HTTP attributes (" + list + "); " +
      (p.action == Action::kDeny ? "the DENY rules apply without them, denying more than written"
                                 : "rules using them never match, allowing less than written");
}

MtlsMode mtlsMode(const json& o, const std::string& where) {
  checkKeys(o, {"mode"}, where);
  const json* mode = field(o, "mode");
  if (mode == nullptr || *mode == "" || *mode == "UNSET") return MtlsMode::kUnset;
  if (*mode == "DISABLE") return MtlsMode::kDisable;
  if (*mode == "PERMISSIVE") return MtlsMode::kPermissive;
  if (*mode == "STRICT") return MtlsMode::kStrict;
  bad(where + ".mode: unknown value " + mode->dump());
}

void decodePeerSpec(const json& doc, PeerAuthentication& p) {
  const json& meta = checkObject(doc, "PeerAuthentication");
  if (const json* created = field(meta, "creationTimestamp")) {
    if (!created->is_string()) bad("metadata.creationTimestamp: must be a string");
    p.creationTimestamp = created->get<std::string>();
  }
  const json* spec = field(doc, "spec");
  if (spec == nullptr) return;
  checkKeys(*spec, {"selector", "mtls", "portLevelMtls"}, "spec");
  if (const json* sel = field(*spec, "selector"))
    p.matchLabels = matchLabels(*sel, "spec.selector");
  if (const json* mtls = field(*spec, "mtls")) p.mode = mtlsMode(*mtls, "spec.mtls");
  const json* portLevel = field(*spec, "portLevelMtls");
  if (portLevel == nullptr) return;
  if (!portLevel->is_object()) bad("spec.portLevelMtls: must be an object {\"<port>\": {mode}}");
  if (portLevel->size() > kMaxPolicyValues) bad("spec.portLevelMtls: too many ports");
  for (auto it = portLevel->begin(); it != portLevel->end(); ++it) {
    std::string w = "spec.portLevelMtls." + it.key();
    uint16_t port = ports({it.key()}, w).front();
    if (port == 0) bad(w + ": port 0");
    p.portLevelMtls[port] = mtlsMode(*it, w);
  }
  if (!p.portLevelMtls.empty() && p.matchLabels.empty()) {
    p.portLevelMtls.clear();
    p.status = PolicyStatus::kPartial;
    p.statusReason = "portLevelMtls applies only with a selector; ignored";
  }
}

}  // namespace

Result<PeerAuthentication> decodePeerAuthentication(std::string_view json) {
  auto named = parseNamed(json, "PeerAuthentication", true);
  if (!named) return fail(named.error());
  PeerAuthentication p;
  p.name = named->name;
  p.ns = named->ns;
  auto invalid = [&](const std::string& why) {
    p.status = PolicyStatus::kInvalid;
    p.statusReason = why + " (STRICT for the workloads it selects)";
    p.portLevelMtls.clear();
  };
  try {
    decodePeerSpec(named->doc, p);
  } catch (const Bad& e) {
    invalid(e.what);
  } catch (const nlohmann::json::exception& e) {
    invalid(e.what());
  }
  return p;
}

Result<AuthorizationPolicy> decodeAuthorizationPolicy(std::string_view json,
                                                      std::string_view rootNamespace) {
  auto named = parseNamed(json, "AuthorizationPolicy", true);
  if (!named) return fail(named.error());
  return decodeOrInvalid(*named, [&](const nlohmann::json& doc, AuthorizationPolicy& p) {
    p.scope = p.ns == rootNamespace ? Scope::kGlobal : Scope::kNamespace;
    decodeSpec(doc, p, rootNamespace);
  });
}

}  // namespace zt::authz
