// Converts a prevResult to a result of the request's cniVersion, as ADD must print it. Pure.
//
// 0.3.0, 0.3.1 and 0.4.0 results carry ips[].version ("4" or "6"); 1.0.0 dropped it. Going to
// 0.3.x/0.4.0 adds a missing `version` (from the address family, placed first); going to 1.x
// removes it. `cniVersion` becomes the request's. Everything else (interfaces with mac,
// sandbox, mtu, ...; routes; dns; unknown fields) is kept as it is, in its order.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/core/error.h"

namespace ambient::cni {

// The error text names the bad field ("prevResult ips[1].address ...").
tl::expected<nlohmann::ordered_json, std::string> convertResult(
    const nlohmann::ordered_json& prevResult, const std::string& toVersion);

// "4" or "6" for an address with or without a prefix ("10.0.0.1/24"); "" when it is neither.
std::string addressFamily(const std::string& address);

}  // namespace ambient::cni
