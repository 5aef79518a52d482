// Type-checked reading of prevResult. Pure.
#include "cni-plugin/core/prev_result.h"

namespace ambient::cni {
namespace {

using json = nlohmann::ordered_json;
using Err = tl::unexpected<std::string>;

// A short rendering of a wrong value for messages ("0", "[...]", "{...}", "\"text\"").
std::string shown(const json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 40) + "..." : s;
}

// Reads an optional string member; nullopt when absent, an error when of another type.
tl::expected<std::optional<std::string>, std::string> optString(const json& obj,
                                                                const std::string& where,
                                                                const char* key, const char* what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string())
    return Err(where + "." + key + " must be a string (" + what + "), not " + shown(*it));
  return std::optional<std::string>(it->get<std::string>());
}

// True when `address` has no "/prefix" or one of 0..maxLen decimal digits.
bool prefixFits(const std::string& address, int maxLen) {
  auto slash = address.find('/');
  if (slash == std::string::npos) return true;
  std::string p = address.substr(slash + 1);
  if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return std::stoi(p) <= maxLen;
}

}  // namespace

tl::expected<PrevResult, std::string> readPrevResult(const json& prev) {
  if (!prev.is_object()) return Err("prevResult must be an object, not " + shown(prev));
  PrevResult out;
  if (auto it = prev.find("interfaces"); it != prev.end() && !it->is_null()) {
    if (!it->is_array()) return Err("prevResult interfaces must be an array, not " + shown(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const json& itf = (*it)[i];
      std::string where = "prevResult interfaces[" + std::to_string(i) + "]";
      if (!itf.is_object()) return Err(where + " must be an object, not " + shown(itf));
      auto name = optString(itf, where, "name", "the interface name");
      if (!name) return Err(name.error());
      if (!*name) return Err(where + ".name is missing (the spec requires it)");
      auto sandbox = optString(itf, where, "sandbox", "a network namespace path");
      if (!sandbox) return Err(sandbox.error());
      out.interfaces.push_back({**name, sandbox->value_or("")});
    }
  }
  if (auto it = prev.find("ips"); it != prev.end() && !it->is_null()) {
    if (!it->is_array()) return Err("prevResult ips must be an array, not " + shown(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const json& ip = (*it)[i];
      std::string where = "prevResult ips[" + std::to_string(i) + "]";
      if (!ip.is_object()) return Err(where + " must be an object, not " + shown(ip));
      auto address = optString(ip, where, "address", "an address in CIDR notation");
      if (!address) return Err(address.error());
      if (!*address) return Err(where + ".address is missing (the spec requires it)");
      // Decoded once: the address (either family) and its optional prefix length.
      const std::string& text = **address;
      auto parsed = IpAddress::parse(text.substr(0, text.find('/')), where + ".address");
      if (!parsed) return Err(parsed.error().message());
      if (!prefixFits(text, parsed->isV4() ? 32 : 128))
        return Err(where + ".address \"" + text + "\" has an invalid prefix length");
      auto version = optString(ip, where, "version", "\"4\" or \"6\"");
      if (!version) return Err(version.error());
      if (*version && **version != (parsed->isV4() ? "4" : "6"))
        return Err(where + ".version \"" + **version + "\" does not match address " + text);
      PrevIp entry{*parsed, std::nullopt};
      if (auto idx = ip.find("interface"); idx != ip.end() && !idx->is_null()) {
        if (!idx->is_number_unsigned())
          return Err(where +
                     ".interface must be a non-negative integer (an index into "
                     "interfaces), not " +
                     shown(*idx));
        uint64_t v = idx->get<uint64_t>();
        if (v >= out.interfaces.size())
          return Err(where + ".interface " + std::to_string(v) + " is not an index into " +
                     "interfaces (" + std::to_string(out.interfaces.size()) + " entries)");
        entry.interfaceIdx = static_cast<size_t>(v);
      }
      out.ips.push_back(entry);
    }
  }
  return out;
}

std::vector<IpAddress> podIps(const PrevResult& prev, const std::string& ifname) {
  std::vector<IpAddress> ips;
  for (const auto& ip : prev.ips) {
    if (!ip.interfaceIdx) continue;
    const auto& itf = prev.interfaces[*ip.interfaceIdx];
    if (itf.name != ifname || itf.sandbox.empty()) continue;
    ips.push_back(ip.address);
  }
  return ips;
}

}  // namespace ambient::cni
