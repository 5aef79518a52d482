// JSON -> typed AuthorizationPolicy from upstream ztunnel's local-config form (its
// Authorization: {name, namespace, scope, action, rules: [[[match]]], dryRun}). Pure; nlohmann's
// exceptions stay inside this file. A policy that can be named but not read comes back kInvalid.
#include "ztunnel/core/authz_json_decode.h"
#include "ztunnel/core/authz_policy.h"

namespace zt::authz {
namespace {

using namespace json_decode;  // NOLINT(google-build-using-namespace): this file's own helpers

StringMatch localStringMatch(const json& o, const std::string& where) {
  if (!o.is_object() || o.size() != 1)
    bad(where + ": must be {\"Exact\"|\"Prefix\"|\"Suffix\": text} or {\"Presence\": []}");
  auto it = o.begin();
  if (it.key() == "Presence") return {StringMatch::Kind::kPresence, ""};
  if (!it->is_string()) bad(where + "." + it.key() + ": must be a string");
  std::string v = it->get<std::string>();
  if (it.key() == "Exact") return {StringMatch::Kind::kExact, v};
  if (it.key() == "Prefix") return {StringMatch::Kind::kPrefix, v};
  if (it.key() == "Suffix") return {StringMatch::Kind::kSuffix, v};
  bad(where + ": unknown match type '" + it.key() + "'");
}

// A list field of upstream's RbacMatch, each element read by `read`.
template <class Read>
auto localList(const json& m, const char* key, const std::string& where, Budget& budget,
               Read read) {
  std::vector<decltype(read(json(), std::string()))> out;
  const json* v = field(m, key);
  if (v == nullptr) return out;
  std::string w = where + "." + key;
  if (!v->is_array()) bad(w + ": must be a list");
  budget.take(v->size(), w);
  for (size_t i = 0; i < v->size(); ++i) out.push_back(read((*v)[i], w));
  return out;
}

Match decodeLocalMatch(const json& m, const std::string& w, Budget& budget) {
  checkKeys(m,
            {"namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "principals",
             "notPrincipals", "sourceIps", "notSourceIps", "destinationIps", "notDestinationIps",
             "destinationPorts", "notDestinationPorts"},
            w);
  auto ip = [](const json& v, const std::string& where) {
    if (!v.is_string()) bad(where + ": must be a list of CIDR strings");
    auto block = IpBlock::parse(v.get<std::string>());
    if (!block) bad(where + ": " + block.error().context);
    return *block;
  };
  auto port = [](const json& v, const std::string& where) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 65535)
      bad(where + ": must be a list of ports 0-65535");
    return static_cast<uint16_t>(v.get<uint64_t>());
  };
  auto sa = [](const json& v, const std::string& where) {
    checkKeys(v, {"namespace", "serviceAccount"}, where);
    const json* ns = field(v, "namespace");
    const json* name = field(v, "serviceAccount");
    if (ns == nullptr || name == nullptr || !ns->is_string() || !name->is_string())
      bad(where + ": needs namespace and serviceAccount strings");
    return StringMatch{StringMatch::Kind::kSuffix,
                       "/ns/" + ns->get<std::string>() + "/sa/" + name->get<std::string>()};
  };
  Match out;
  out.namespaces = localList(m, "namespaces", w, budget, localStringMatch);
  out.notNamespaces = localList(m, "notNamespaces", w, budget, localStringMatch);
  out.principals = localList(m, "principals", w, budget, localStringMatch);
  out.notPrincipals = localList(m, "notPrincipals", w, budget, localStringMatch);
  for (auto& s : localList(m, "serviceAccounts", w, budget, sa)) out.principals.push_back(s);
  for (auto& s : localList(m, "notServiceAccounts", w, budget, sa)) out.notPrincipals.push_back(s);
  out.sourceIps = localList(m, "sourceIps", w, budget, ip);
  out.notSourceIps = localList(m, "notSourceIps", w, budget, ip);
  out.destinationIps = localList(m, "destinationIps", w, budget, ip);
  out.notDestinationIps = localList(m, "notDestinationIps", w, budget, ip);
  out.destinationPorts = localList(m, "destinationPorts", w, budget, port);
  out.notDestinationPorts = localList(m, "notDestinationPorts", w, budget, port);
  return out;
}

// upstream's Authorization: {name, namespace, scope, action, rules: [[[match]]], dryRun}.
void decodeLocal(const json& doc, AuthorizationPolicy& p) {
  checkKeys(doc, {"name", "namespace", "scope", "action", "rules", "dryRun"}, "policy");
  const json* scope = field(doc, "scope");
  if (scope == nullptr || !scope->is_string()) bad("scope: must be a string");
  if (*scope == "Global") {
    p.scope = Scope::kGlobal;
  } else if (*scope == "WorkloadSelector") {
    p.scope = Scope::kWorkloadSelector;
  } else if (*scope != "Namespace") {
    bad("scope: unknown value " + scope->dump());
  }
  const json* action = field(doc, "action");
  if (action == nullptr || (*action != "Allow" && *action != "Deny"))
    bad("action: must be \"Allow\" or \"Deny\"");
  p.action = *action == "Deny" ? Action::kDeny : Action::kAllow;
  if (const json* dry = field(doc, "dryRun")) {
    if (!dry->is_boolean()) bad("dryRun: must be a boolean");
    p.dryRun = dry->get<bool>();
  }
  const json* rules = field(doc, "rules");
  if (rules == nullptr) return;
  Budget budget;
  auto list = [](const json& v, const std::string& where) -> const json& {
    if (!v.is_array()) bad(where + ": must be a list");
    return v;
  };
  const json& rs = list(*rules, "rules");
  for (size_t i = 0; i < rs.size(); ++i) {
    std::string wr = "rules[" + std::to_string(i) + "]";
    Rule rule;
    const json& cs = list(rs[i], wr);
    for (size_t j = 0; j < cs.size(); ++j) {
      std::string wc = wr + "[" + std::to_string(j) + "]";
      Clause clause;
      const json& ms = list(cs[j], wc);
      for (size_t k = 0; k < ms.size(); ++k)
        clause.push_back(decodeLocalMatch(ms[k], wc + "[" + std::to_string(k) + "]", budget));
      rule.clauses.push_back(std::move(clause));
    }
    p.rules.push_back(std::move(rule));
  }
}

}  // namespace

Result<AuthorizationPolicy> decodeLocalAuthorization(std::string_view json) {
  auto named = parseNamed(json, "policy", false);
  if (!named) return fail(named.error());
  return decodeOrInvalid(*named, decodeLocal);
}

}  // namespace zt::authz
