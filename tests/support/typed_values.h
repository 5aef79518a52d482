// Typed values from text known only at run time, for tests: a bad text is a bug in the test,
// so it aborts naming the text. (Literals need none of this: `IpAddress a = "10.0.0.1";` is
// checked when compiling.) Pure.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/if_name.h"
#include "common/core/ip_address.h"

namespace ambient::testing {

inline IpAddress ipOf(std::string_view text) {
  auto ip = IpAddress::parse(text, "test address");
  if (!ip) {
    std::fprintf(stderr, "%s\n", ip.error().message().c_str());
    std::abort();
  }
  return *ip;
}

inline std::vector<IpAddress> ipsOf(const std::vector<std::string>& texts) {
  std::vector<IpAddress> out;
  for (const auto& t : texts) out.push_back(ipOf(t));
  return out;
}

inline IfName ifOf(std::string_view text) {
  auto name = IfName::parse(text, "test interface name");
  if (!name) {
    std::fprintf(stderr, "%s\n", name.error().message().c_str());
    std::abort();
  }
  return *name;
}

}  // namespace ambient::testing
