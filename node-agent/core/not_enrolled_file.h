// The agent's list of ambient pods of this node that stay outside the mesh, and why, as the
// JSON file `ambientctl verify` reads (<state-dir>/not-enrolled.json):
// {"pods": {"<ns>/<name>": "<reason>"}}. Pure.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace ambient {

inline constexpr const char* kNotEnrolledFile = "not-enrolled.json";

std::string encodeNotEnrolled(const std::map<std::string, std::string>& pods);
Result<std::map<std::string, std::string>> decodeNotEnrolled(std::string_view text);

}  // namespace ambient
