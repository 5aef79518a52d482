// Ethernet (MAC-48) addresses as values: parse, format, compare. Pure.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace ambient {

struct MacAddr {
  std::array<uint8_t, 6> bytes{};

  // "02:42:ac:11:00:02" (six colon-separated pairs of hex digits, either case).
  static Result<MacAddr> parse(std::string_view text);
  std::string str() const;  // lower case, colon-separated
  auto operator<=>(const MacAddr&) const = default;
};

}  // namespace ambient
