// What a refused parse said, for checks that the refusal names the culprit:
//   CHECK_THAT(refusalOf(parseAgentFlags({"--tunnel-port", "0"})), Contains("--tunnel-port"));
// A parse that was accepted gives "(accepted)", which names no flag, so such a check fails and
// Catch reports the caller's line.
#pragma once

#include <string>

namespace ambient::testing {

// `r` is a Result<T> (tl::expected with the project's Error).
template <class R>
std::string refusalOf(const R& r) {
  return r ? std::string("(accepted)") : r.error().message();
}

}  // namespace ambient::testing
