// IPv4/IPv6 addresses and socket addresses as plain values: parse, format, compare. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "ztunnel/core/error.h"

namespace zt {

struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // v4 uses the first 4

  static Result<IpAddr> parse(std::string_view text);
  static IpAddr v4(uint32_t hostOrder);
  std::string toString() const;
  bool isLoopback() const;
  bool isUnspecified() const;
  auto operator<=>(const IpAddr&) const = default;
};

struct SocketAddr {
  IpAddr ip;
  uint16_t port = 0;

  // An RFC 3986 authority with an IP host: "1.2.3.4:80" or "[::1]:80"; refuses an unbracketed
  // IPv6 address, a bracketed IPv4 one, zone identifiers, host names and a missing port.
  static Result<SocketAddr> parse(std::string_view text);
  std::string toString() const;  // the same form; IPv6 as RFC 5952 writes it, in brackets
  auto operator<=>(const SocketAddr&) const = default;
};

struct IpAddrHash {
  size_t operator()(const IpAddr& a) const {
    size_t h = a.v6 ? 1469598103934665603ull : 0;
    for (uint8_t b : a.bytes) h = (h ^ b) * 1099511628211ull;
    return h;
  }
};

}  // namespace zt
