// Converts a prevResult to the result of the request's cniVersion. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/core/error.h"

namespace ambient::cni {

// The prevResult, rendered as a result of `toVersion`; the error text names the bad field.
tl::expected<nlohmann::ordered_json, std::string> convertResult(
    const nlohmann::ordered_json& prevResult, const std::string& toVersion);

}  // namespace ambient::cni
