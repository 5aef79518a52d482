// Converts a prevResult to a result of the request's cniVersion. Pure.
#include "cni-plugin/core/result_convert.h"

#include "cni-plugin/core/cni_request.h"
#include "common/core/ip_address.h"

namespace ambient::cni {
namespace {

using json = nlohmann::ordered_json;

// `obj` with `key` = `value` as its first member (or replaced where it stands).
json withFirst(const json& obj, const std::string& key, const json& value) {
  if (obj.contains(key)) {
    json out = obj;
    out[key] = value;
    return out;
  }
  json out = json::object();
  out[key] = value;
  for (const auto& [k, v] : obj.items()) out[k] = v;
  return out;
}

}  // namespace

std::string addressFamily(const std::string& address) {
  auto ip = IpAddress::parse(std::string_view(address).substr(0, address.find('/')));
  if (!ip) return "";
  return ip->isV4() ? "4" : "6";
}

tl::expected<json, std::string> convertResult(const json& prevResult,
                                              const std::string& toVersion) {
  if (!prevResult.is_object()) return tl::unexpected<std::string>("prevResult is not an object");
  json r = withFirst(prevResult, "cniVersion", toVersion);
  auto ips = r.find("ips");
  if (ips == r.end()) return r;
  if (!ips->is_array()) return tl::unexpected<std::string>("prevResult ips is not an array");
  const bool wantVersion = !versionAtLeast(toVersion, "1.0.0");
  for (size_t i = 0; i < ips->size(); ++i) {
    json& ip = (*ips)[i];
    std::string where = "prevResult ips[" + std::to_string(i) + "]";
    if (!ip.is_object()) return tl::unexpected<std::string>(where + " is not an object");
    if (!wantVersion) {
      ip.erase("version");
      continue;
    }
    if (ip.contains("version")) continue;
    auto addr = ip.find("address");
    std::string family =
        addr != ip.end() && addr->is_string() ? addressFamily(addr->get<std::string>()) : "";
    if (family.empty())
      return tl::unexpected<std::string>(where + ".address is not an IPv4 or IPv6 address");
    ip = withFirst(ip, "version", family);
  }
  return r;
}

}  // namespace ambient::cni
