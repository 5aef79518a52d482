// CNI request parsing: versions, CNI_ARGS and the error and VERSION JSON. Pure.
#include "cni-plugin/core/cni_request.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ambient::cni {

const std::vector<std::string>& supportedVersions() {
  static const std::vector<std::string> v{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return v;
}
bool isSupportedVersion(const std::string& v) {
  for (const auto& s : supportedVersions())
    if (s == v) return true;
  return false;
}

bool versionAtLeast(const std::string& v, const std::string& min) {
  const auto& all = supportedVersions();
  auto iv = std::find(all.begin(), all.end(), v);
  auto im = std::find(all.begin(), all.end(), min);
  return iv != all.end() && im != all.end() && iv >= im;
}

tl::expected<std::map<std::string, std::string>, std::string> parseCniArgs(
    const std::string& text) {
  using Err = tl::unexpected<std::string>;
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(';', pos);
    if (end == std::string::npos) end = text.size();
    std::string kv = text.substr(pos, end - pos);
    pos = end + 1;
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    if (eq == std::string::npos) return Err("CNI_ARGS entry \"" + kv + "\" is not KEY=VALUE");
    if (eq == 0) return Err("CNI_ARGS entry \"" + kv + "\" has an empty key");
    // A key given twice: the last counts, as in libcni. Podman puts its own
    // K8S_POD_NAME=<container name> first and appends the caller's CNI_ARGS pairs after it.
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const char* key : {"K8S_POD_NAMESPACE", "K8S_POD_NAME"})
    if (auto it = out.find(key); it != out.end() && it->second.empty())
      return Err(std::string("CNI_ARGS ") + key + " is empty");
  return out;
}

std::string errorJson(const std::string& cniVersion, const CniFailure& f) {
  nlohmann::ordered_json j;
  j["cniVersion"] = cniVersion.empty() ? "1.1.0" : cniVersion;
  j["code"] = f.code;
  j["msg"] = f.msg;
  if (!f.details.empty()) j["details"] = f.details;
  // Messages quote runtime-given bytes (CNI_COMMAND, ...): non-UTF-8 becomes U+FFFD.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string versionJson(const std::string& cniVersion) {
  nlohmann::ordered_json j;
  j["cniVersion"] = cniVersion.empty() ? "1.1.0" : cniVersion;
  j["supportedVersions"] = supportedVersions();
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace ambient::cni
