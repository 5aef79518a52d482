// IPv4 addresses and prefixes as values. Pure.
#include "common/core/ipv4.h"

#include <arpa/inet.h>

#include <charconv>

#include "common/core/constants.h"

namespace ambient {

Result<Ipv4> Ipv4::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    return fail(ErrorCode::kInvalidInput,
                "IPv6 address \"" + std::string(text) +
                    "\" is not supported yet: this release redirects IPv4 only");
  }
  std::string s(text);
  in_addr a{};
  if (s.empty() || inet_pton(AF_INET, s.c_str(), &a) != 1) {
    return fail(ErrorCode::kInvalidInput, "\"" + s + "\" is not an IPv4 address");
  }
  return Ipv4{ntohl(a.s_addr)};
}

std::string Ipv4::str() const {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

Result<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = Ipv4::parse(text.substr(0, slash));
  if (!addr) return fail(addr.error());
  if (slash == std::string_view::npos) return Ipv4Prefix{*addr, 32};
  auto lenText = text.substr(slash + 1);
  unsigned len = 0;
  auto [ptr, ec] = std::from_chars(lenText.data(), lenText.data() + lenText.size(), len);
  if (ec != std::errc() || ptr != lenText.data() + lenText.size() || lenText.empty() || len > 32) {
    return fail(ErrorCode::kInvalidInput,
                "\"" + std::string(text) + "\" has an invalid prefix length (0-32)");
  }
  return Ipv4Prefix{*addr, static_cast<uint8_t>(len)};
}

std::string Ipv4Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

Status validateIfName(std::string_view name, std::string_view what) {
  auto bad = [&](std::string why) {
    return fail(ErrorCode::kInvalidInput,
                std::string(what) + " \"" + std::string(name) + "\" " + why);
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > kIfNameMax) {
    return bad("is " + std::to_string(name.size()) + " bytes; the kernel allows at most " +
               std::to_string(kIfNameMax));
  }
  if (name == "." || name == "..") return bad("is not a valid interface name");
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') {
      return bad("contains a character the kernel rejects in interface names");
    }
  }
  return {};
}

}  // namespace ambient
