// Which version of a custom resource to watch, from the answers to listing its versions in order
// of preference (security.istio.io v1, then v1beta1): the first that lists is watched; 404 on
// every version means the CRD is not installed; 403 means RBAC forbids it. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/k8s/api_paths.h"

namespace ambient::k8s {

enum class CrdState {
  kServed,     // `version` lists: watch it
  kAbsent,     // every version answered 404: the CRD is not installed
  kForbidden,  // 403: the service account may not list it
  kFailed,     // another error (API unreachable, 5xx): ask again soon
};

struct CrdChoice {
  CrdState state = CrdState::kFailed;
  size_t version = 0;  // index of the served candidate (kServed)
  std::string why;     // for kAbsent, kForbidden and kFailed: what the API answered
};

// `answers[i]` is the result of listing candidate i. Candidates are probed in order while they
// answer 404, so `answers` may be shorter than the list of candidates (never empty).
CrdChoice chooseCrdVersion(const std::vector<Status>& answers);

// True for an API error that is a 403 (ApiClient maps 401/403/5xx alike to kUnavailable; the
// message carries the HTTP status, see describeHttpFailure).
bool isForbidden(const Error& error);

// "/apis/security.istio.io/v1/authorizationpolicies?limit=1": a cheap list that answers 404 when
// the version is not served.
std::string renderProbeTarget(const ResourceType& type);

}  // namespace ambient::k8s
