// Address parsing and formatting with inet_pton/inet_ntop (no system calls). Pure.
#include "ztunnel/core/ip_addr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace zt {

Result<IpAddr> IpAddr::parse(std::string_view text) {
  std::string s(text);
  // inet_pton stops at a NUL: "10.0.0.1\0junk" would pass for 10.0.0.1.
  if (s.find('\0') != std::string::npos)
    return fail(ErrorCode::kInvalidInput, "NUL byte in IP address");
  // A zone (fe80::1%eth0, RFC 4007/6874) names an interface of one host: never a workload's.
  if (s.find('%') != std::string::npos)
    return fail(ErrorCode::kInvalidInput, "IPv6 zone identifiers are not accepted: '" + s + "'");
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    // Treat IPv4-mapped IPv6 (::ffff:a.b.c.d) as IPv4 so lookups match either spelling.
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
      IpAddr v4;
      std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
      return v4;
    }
    return a;
  }
  return fail(ErrorCode::kInvalidInput, "not an IP address: '" + s + "'");
}

IpAddr IpAddr::v4(uint32_t hostOrder) {
  IpAddr a;
  a.bytes[0] = hostOrder >> 24;
  a.bytes[1] = hostOrder >> 16;
  a.bytes[2] = hostOrder >> 8;
  a.bytes[3] = hostOrder;
  return a;
}

std::string IpAddr::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
  return buf;
}

bool IpAddr::isLoopback() const {
  if (!v6) return bytes[0] == 127;
  for (int i = 0; i < 15; ++i)
    if (bytes[i] != 0) return false;
  return bytes[15] == 1;
}

bool IpAddr::isUnspecified() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

// RFC 3986 section 3.2.2: host = IP-literal / IPv4address; IP-literal = "[" IPv6address "]".
// An IPv6 address is written only in brackets, an IPv4 one only without; an IPv4-mapped literal
// ([::ffff:a.b.c.d]) is the IPv4 address, as IpAddr::parse and the kernel's sockaddrs give it.
Result<SocketAddr> SocketAddr::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(ErrorCode::kInvalidInput, "bad [ipv6]:port: '" + std::string(text) + "'");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon)
      return fail(ErrorCode::kInvalidInput,
                  "expected ipv4:port or [ipv6]:port, got '" + std::string(text) + "'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto ip = IpAddr::parse(host);
  if (!ip) return fail(ip.error());
  if (bracketed && host.find(':') == std::string_view::npos)
    return fail(ErrorCode::kInvalidInput,
                "an IPv4 address is not written in brackets: '" + std::string(text) + "'");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535)
    return fail(ErrorCode::kInvalidInput, "bad port in '" + std::string(text) + "'");
  return SocketAddr{*ip, static_cast<uint16_t>(value)};
}

std::string SocketAddr::toString() const {
  if (ip.v6) return "[" + ip.toString() + "]:" + std::to_string(port);
  return ip.toString() + ":" + std::to_string(port);
}

}  // namespace zt
