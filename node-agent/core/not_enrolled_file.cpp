// The not-enrolled list's JSON form. Pure.
#include "node-agent/core/not_enrolled_file.h"

#include <nlohmann/json.hpp>

namespace ambient {

std::string encodeNotEnrolled(const std::map<std::string, std::string>& pods) {
  nlohmann::json j = {{"pods", pods}};
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<std::map<std::string, std::string>> decodeNotEnrolled(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("pods") || !j["pods"].is_object()) {
    return fail(ErrorCode::kProtocol, "not-enrolled list is not {\"pods\": {...}}");
  }
  std::map<std::string, std::string> out;
  for (auto& [pod, why] : j["pods"].items()) {
    if (!why.is_string()) {
      return fail(ErrorCode::kProtocol,
                  "not-enrolled list: the reason of " + pod + " is not a string");
    }
    out[pod] = why.get<std::string>();
  }
  return out;
}

}  // namespace ambient
