// "0x1f": how marks and masks are written everywhere (nft text, ip rules, reports). Pure.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ambient {

inline std::string hexString(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace ambient
