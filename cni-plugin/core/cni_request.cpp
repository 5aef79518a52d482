// CNI request parsing, version handling, prevResult IP extraction and error JSON. Pure.
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

std::map<std::string, std::string> parseCniArgs(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(';', pos);
    if (end == std::string::npos) end = text.size();
    std::string kv = text.substr(pos, end - pos);
    if (auto eq = kv.find('='); eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

std::vector<std::string> podIps(const std::string& prevResultJson, const std::string& ifname) {
  std::vector<std::string> ips;
  auto j = nlohmann::json::parse(prevResultJson, nullptr, false);
  if (!j.is_object() || !j.contains("interfaces") || !j["interfaces"].is_array()) return ips;
  const auto& ifs = j["interfaces"];
  auto ipsIt = j.find("ips");
  if (ipsIt == j.end() || !ipsIt->is_array()) return ips;
  for (const auto& ip : *ipsIt) {
    if (!ip.is_object() || !ip.contains("interface") || !ip["interface"].is_number_unsigned())
      continue;
    size_t idx = ip["interface"].get<size_t>();
    if (idx >= ifs.size() || !ifs[idx].is_object()) continue;
    const auto& itf = ifs[idx];
    if (itf.value("name", "") != ifname || itf.value("sandbox", "").empty()) continue;
    std::string addr = ip.value("address", "");
    if (auto slash = addr.find('/'); slash != std::string::npos) addr.resize(slash);
    if (!addr.empty()) ips.push_back(addr);
  }
  return ips;
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
