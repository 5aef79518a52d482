// The one-line JSON reply of ambient-cni-api-lookup, the helper that reads the Kubernetes API
// for the agent-down fallback: {"namespace": <object or null>, "pod": <object or null>} (null:
// the API answered 404) or {"error": "<what failed>"}. Kept out of ambient-cni itself so that
// the plugin's hot path loads no HTTP, TLS or YAML library. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/core/error.h"
#include "common/mesh/api_snapshot.h"

namespace ambient::cni {

inline constexpr const char* kApiLookupBinary = "ambient-cni-api-lookup";

std::string renderLookupReply(const nlohmann::json& namespaceObject,
                              const nlohmann::json& podObject);
std::string renderLookupError(const std::string& message);

// The objects of a reply; an error (kUnavailable) carrying the helper's own error, or
// kProtocol when the reply or an object in it does not parse.
Result<ApiObjects> parseLookupReply(std::string_view text);

}  // namespace ambient::cni
