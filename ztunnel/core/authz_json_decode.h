// Helpers shared by the two policy decoders (authz_policy_k8s_json.cpp: Kubernetes objects;
// authz_policy_local_json.cpp: upstream ztunnel's local-config form). Internal to those files:
// a decoder reports a problem by throwing Bad, caught at its entry point. Pure.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ztunnel/core/authz_policy.h"

namespace zt::authz::json_decode {

using nlohmann::json;

struct Bad {
  std::string what;
};

[[noreturn]] inline void bad(std::string what) {
  throw Bad{std::move(what)};
}

inline const json* field(const json& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

inline void checkKeys(const json& o, std::initializer_list<std::string_view> allowed,
                      const std::string& where) {
  if (!o.is_object()) bad(where + ": must be an object");
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
      bad(where + ": unknown field '" + it.key() + "'");
  }
}

// Counts every value of a policy against kMaxPolicyValues.
struct Budget {
  size_t used = 0;
  void take(size_t n, const std::string& where) {
    used += n;
    if (used > kMaxPolicyValues)
      bad(where + ": more than " + std::to_string(kMaxPolicyValues) + " values in one policy");
  }
};

struct Named {
  json doc;
  std::string name;
  std::string ns;
};

// Parses `text` and reads the policy's name and namespace from `nameAt` (an object in it).
inline Result<Named> parseNamed(std::string_view text, std::string_view what, bool metadata) {
  Named n;
  try {
    n.doc = json::parse(text);
  } catch (const json::exception& e) {
    return fail(ErrorCode::kInvalidInput, std::string(what) + ": not JSON: " + e.what());
  }
  const json* at = n.doc.is_object() && metadata ? field(n.doc, "metadata") : &n.doc;
  const json* name = at != nullptr && at->is_object() ? field(*at, "name") : nullptr;
  const json* ns = at != nullptr && at->is_object() ? field(*at, "namespace") : nullptr;
  if (name == nullptr || ns == nullptr || !name->is_string() || !ns->is_string() ||
      name->get<std::string>().empty() || ns->get<std::string>().empty()) {
    return fail(ErrorCode::kInvalidInput,
                std::string(what) + ": needs a name and a namespace (strings)");
  }
  n.name = name->get<std::string>();
  n.ns = ns->get<std::string>();
  return n;
}

// An unreadable policy: no rules, fails closed.
inline void markInvalid(AuthorizationPolicy& p, std::string reason) {
  p.status = PolicyStatus::kInvalid;
  p.statusReason = std::move(reason) + " (fails closed for the workloads it selects)";
  p.rules.clear();
  p.l7Fields.clear();
}

// The named policy with its body decoded by `decode` (which throws Bad or a JSON error for
// what it cannot read): a policy that fails decoding is kept, marked invalid.
template <class Decode>
AuthorizationPolicy decodeOrInvalid(const Named& named, Decode decode) {
  AuthorizationPolicy p;
  p.name = named.name;
  p.ns = named.ns;
  try {
    decode(named.doc, p);
  } catch (const Bad& e) {
    markInvalid(p, e.what);
  } catch (const nlohmann::json::exception& e) {
    markInvalid(p, e.what());
  }
  return p;
}

}  // namespace zt::authz::json_decode
