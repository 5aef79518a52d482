// IPv4 addresses and prefixes as values. Pure.
#include "common/core/ipv4.h"

#include <charconv>

#include "common/core/ip_address.h"

namespace ambient {

Result<Ipv4> Ipv4::parse(std::string_view text) {
  auto ip = IpAddress::parse(text);
  if (ip && ip->isV4()) return *ip->v4();
  if (ip || text.find(':') != std::string_view::npos) {
    return fail(ErrorCode::kInvalidInput,
                "IPv6 address \"" + std::string(text) +
                    "\" is not supported yet: this release redirects IPv4 only");
  }
  return fail(ErrorCode::kInvalidInput, "\"" + std::string(text) + "\" is not an IPv4 address");
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

std::string Ipv4Prefix::str() const {
  return addr.str() + "/" + std::to_string(len);
}

}  // namespace ambient
