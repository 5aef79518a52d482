// Converts a prevResult to the result of the request's cniVersion. Pure.
#include "cni-plugin/core/result_convert.h"

namespace ambient::cni {

tl::expected<nlohmann::ordered_json, std::string> convertResult(
    const nlohmann::ordered_json& prevResult, const std::string& toVersion) {
  nlohmann::ordered_json r = prevResult;
  r["cniVersion"] = toVersion;
  return r;
}

}  // namespace ambient::cni
