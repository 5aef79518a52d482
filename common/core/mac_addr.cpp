// Ethernet addresses as values. Pure.
#include "common/core/mac_addr.h"

#include <cstdio>

namespace ambient {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<MacAddr> MacAddr::parse(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::kInvalidInput,
                "\"" + std::string(text) + "\" is not a MAC address (six hex pairs, a:b:c:d:e:f)");
  };
  if (text.size() != 17) return bad();
  MacAddr mac;
  for (size_t i = 0; i < 6; ++i) {
    int hi = hexDigit(text[i * 3]);
    int lo = hexDigit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) return bad();
    mac.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string MacAddr::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

}  // namespace ambient
