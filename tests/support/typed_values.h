// Typed values from text known only at run time, for tests: a bad text is a bug in the test,
// so it aborts naming the text. (Literals need none of this: `IpAddress a = "10.0.0.1";` is
// checked when compiling.) Pure.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/if_name.h"
#include "common/core/ip_address.h"

namespace ambient::testing {

// The value, or abort naming what was wrong with the text.
template <class T>
T orAbort(Result<T> r) {
  if (!r) {
    std::fprintf(stderr, "%s\n", r.error().message().c_str());
    std::abort();
  }
  return std::move(*r);
}

inline IpAddress ipOf(std::string_view text) {
  return orAbort(IpAddress::parse(text, "test address"));
}

inline std::vector<IpAddress> ipsOf(const std::vector<std::string>& texts) {
  std::vector<IpAddress> out;
  for (const auto& t : texts) out.push_back(ipOf(t));
  return out;
}

inline IfName ifOf(std::string_view text) {
  return orAbort(IfName::parse(text, "test interface name"));
}

}  // namespace ambient::testing
