// IPv4 addresses and prefixes as values: parse, format, compare. Pure.
// IPv6 input is rejected with a clear error until dual-stack lands (see README).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace ambient {

struct Ipv4 {
  uint32_t value = 0;  // host byte order

  static Result<Ipv4> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Ipv4&) const = default;
};

struct Ipv4Prefix {
  Ipv4 addr;
  uint8_t len = 32;

  // "a.b.c.d/n"; a bare address means /32.
  static Result<Ipv4Prefix> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Ipv4Prefix&) const = default;
};

}  // namespace ambient
