// IP addresses of either family as values. Pure.
#include "common/core/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace ambient {

Result<IpAddress> IpAddress::parse(std::string_view text, std::string_view what) {
  auto ip = parseText(text);
  if (!ip) {
    return fail(ErrorCode::kInvalidInput, std::string(what) + " \"" + std::string(text) +
                                              "\" is not an IPv4 or IPv6 address");
  }
  return *ip;
}

std::optional<Ipv4> IpAddress::v4() const {
  if (!isV4()) return std::nullopt;
  return Ipv4{uint32_t(bytes_[0]) << 24 | uint32_t(bytes_[1]) << 16 | uint32_t(bytes_[2]) << 8 |
              bytes_[3]};
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

IpPrefix IpPrefix::any(IpAddress::Family family) {
  IpAddress zero;
  if (family == IpAddress::Family::kV6) zero = IpAddress::fromBytes(family, zero.bytes().data());
  return {zero, 0};
}

IpPrefix IpPrefix::network() const {
  std::array<uint8_t, 16> b = addr.bytes();
  const size_t width = addr.isV4() ? 4 : 16;
  for (size_t i = 0; i < width; ++i) {
    const int kept = std::clamp(int(len) - int(8 * i), 0, 8);
    b[i] &= uint8_t(0xff00 >> kept);
  }
  return {IpAddress::fromBytes(addr.family(), b.data()), len};
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family() == family() && IpPrefix{a, len}.network() == network();
}

Result<IpPrefix> IpPrefix::parse(std::string_view text, std::string_view what) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash), what);
  if (!addr) return fail(addr.error());
  IpPrefix out = host(*addr);
  if (slash == std::string_view::npos) return out;
  auto lenText = text.substr(slash + 1);
  unsigned len = 0;
  auto [ptr, ec] = std::from_chars(lenText.data(), lenText.data() + lenText.size(), len);
  if (lenText.empty() || ec != std::errc() || ptr != lenText.data() + lenText.size() ||
      len > out.len) {
    return fail(ErrorCode::kInvalidInput, std::string(what) + " \"" + std::string(text) +
                                              "\" has an invalid prefix length (0-" +
                                              std::to_string(out.len) + ")");
  }
  out.len = uint8_t(len);
  return out;
}

std::optional<Ipv4> firstV4(const std::vector<IpAddress>& ips) {
  for (const auto& ip : ips) {
    if (auto v4 = ip.v4()) return v4;
  }
  return std::nullopt;
}

}  // namespace ambient
