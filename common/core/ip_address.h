// An IP address of either family as a value, decoded once where it enters the program
// (protocol, registry, configuration) and carried typed from there on. A literal in code is
// checked when compiling. Pure.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"
#include "common/core/ipv4.h"

namespace ambient {

class IpAddress {
 public:
  enum class Family : uint8_t { kV4, kV6 };

  IpAddress() = default;  // 0.0.0.0
  // A literal, checked at compile time: `IpAddress a = "10.0.0.1";`. Text known only at run
  // time goes through parse().
  consteval IpAddress(const char* literal) {  // NOLINT(google-explicit-constructor)
    auto parsed = parseText(literal);
    if (!parsed) throw "not an IPv4 or IPv6 address literal";
    *this = *parsed;
  }
  // Dotted-quad IPv4 ("10.0.0.1") or RFC 4291 IPv6 text ("fd00::1", "::ffff:10.0.0.1"); what
  // inet_pton(3) accepts. `what` names the field in the error.
  static Result<IpAddress> parse(std::string_view text, std::string_view what = "address");
  static constexpr IpAddress fromV4(Ipv4 a) {
    IpAddress ip;
    for (int i = 0; i < 4; ++i) ip.bytes_[i] = uint8_t(a.value >> (24 - 8 * i));
    return ip;
  }

  // From network-order bytes as the kernel gives them (4 for kV4, 16 for kV6).
  static IpAddress fromBytes(Family family, const uint8_t* bytes) {
    IpAddress ip;
    ip.family_ = family;
    for (size_t i = 0; i < (family == Family::kV4 ? 4u : 16u); ++i) ip.bytes_[i] = bytes[i];
    return ip;
  }

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::kV4; }
  bool isV6() const { return family_ == Family::kV6; }
  // The IPv4 address, when this is one.
  std::optional<Ipv4> v4() const;
  // Network byte order; an IPv4 address uses the first 4 bytes.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // inet_ntop(3)'s text (RFC 5952 for IPv6).
  std::string str() const;
  auto operator<=>(const IpAddress&) const = default;

 private:
  static constexpr std::optional<IpAddress> parseText(std::string_view text);
  static constexpr bool parseV4(std::string_view text, uint8_t* out);

  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

// An address and a prefix length of the same family: "10.0.0.0/8", "fd00:126::1/126".
struct IpPrefix {
  IpAddress addr;
  uint8_t len = 32;

  // The whole address: /32 or /128.
  static IpPrefix host(const IpAddress& a) { return {a, a.isV4() ? uint8_t(32) : uint8_t(128)}; }
  // The default route's destination of `family`: 0.0.0.0/0 or ::/0.
  static IpPrefix any(IpAddress::Family family);
  static IpPrefix fromV4(const Ipv4Prefix& p) { return {IpAddress::fromV4(p.addr), p.len}; }
  // "ADDR/LEN"; a bare address is the host prefix. `what` names the field in the error.
  static Result<IpPrefix> parse(std::string_view text, std::string_view what = "prefix");
  IpAddress::Family family() const { return addr.family(); }
  std::string str() const { return addr.str() + "/" + std::to_string(len); }
  // The network: the address with the bits past `len` cleared.
  IpPrefix network() const;
  // Whether `a` is of this family and inside the network.
  bool contains(const IpAddress& a) const;
  auto operator<=>(const IpPrefix&) const = default;
};

// The first IPv4 address of `ips`, if any.
std::optional<Ipv4> firstV4(const std::vector<IpAddress>& ips);

// ---- the parser, constexpr so that literals are checked when compiling

constexpr bool IpAddress::parseV4(std::string_view text, uint8_t* out) {
  int part = 0;
  unsigned value = 0;
  int digits = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      if (digits == 0 || part == 4) return false;
      out[part++] = uint8_t(value);
      value = 0;
      digits = 0;
      continue;
    }
    char c = text[i];
    if (c < '0' || c > '9') return false;
    if (digits == 1 && value == 0) return false;  // no leading zeros (inet_pton)
    value = value * 10 + unsigned(c - '0');
    if (++digits > 3 || value > 255) return false;
  }
  return part == 4;
}

constexpr std::optional<IpAddress> IpAddress::parseText(std::string_view text) {
  IpAddress ip;
  if (text.find(':') == std::string_view::npos) {
    if (!parseV4(text, ip.bytes_.data())) return std::nullopt;
    return ip;
  }
  ip.family_ = Family::kV6;
  // Groups before and after the "::" (at most one), then the gap fills the rest with zeros.
  std::array<uint8_t, 16> head{}, tail{};
  size_t headBytes = 0, tailBytes = 0;
  bool gap = false;
  size_t i = 0;
  if (text.substr(0, 2) == "::") {
    gap = true;
    i = 2;
  } else if (text.substr(0, 1) == ":") {
    return std::nullopt;
  }
  while (i < text.size()) {
    size_t end = text.find(':', i);
    std::string_view piece = text.substr(i, end == std::string_view::npos ? text.npos : end - i);
    auto& out = gap ? tail : head;
    size_t& used = gap ? tailBytes : headBytes;
    if (headBytes + tailBytes + 2 > 16) return std::nullopt;
    if (piece.find('.') != std::string_view::npos) {
      // An embedded IPv4 address: the last 32 bits, and the last piece.
      if (end != std::string_view::npos || headBytes + tailBytes + 4 > 16) return std::nullopt;
      if (!parseV4(piece, out.data() + used)) return std::nullopt;
      used += 4;
      break;
    }
    if (piece.empty() || piece.size() > 4) return std::nullopt;
    unsigned group = 0;
    for (char c : piece) {
      unsigned d = c >= '0' && c <= '9'   ? unsigned(c - '0')
                   : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? unsigned(c - 'A' + 10)
                                          : 16u;
      if (d == 16) return std::nullopt;
      group = group * 16 + d;
    }
    out[used++] = uint8_t(group >> 8);
    out[used++] = uint8_t(group & 0xff);
    if (end == std::string_view::npos) break;
    if (text.substr(end, 2) == "::") {
      if (gap) return std::nullopt;
      gap = true;
      i = end + 2;
    } else {
      i = end + 1;
      if (i == text.size()) return std::nullopt;  // a trailing single ':'
    }
  }
  if (gap ? headBytes + tailBytes > 14 : headBytes + tailBytes != 16) return std::nullopt;
  for (size_t k = 0; k < headBytes; ++k) ip.bytes_[k] = head[k];
  for (size_t k = 0; k < tailBytes; ++k) ip.bytes_[16 - tailBytes + k] = tail[k];
  return ip;
}

}  // namespace ambient
