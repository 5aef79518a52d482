// SPIFFE workload identities "spiffe://<trust domain>/ns/<ns>/sa/<sa>": parse, render, match. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ztunnel/core/error.h"

namespace zt {

struct SpiffeIdentity {
  std::string trustDomain;
  std::string ns;
  std::string serviceAccount;

  static Result<SpiffeIdentity> parse(std::string_view uri);
  std::string toUri() const;
  bool operator==(const SpiffeIdentity&) const = default;
};

// Checks a TLS peer's URI SANs: exactly one must be a SPIFFE identity in `trustDomain`; when
// `expected` is non-empty the identity must equal it. Returns the identity or why it was refused.
Result<SpiffeIdentity> checkPeerIdentity(const std::vector<std::string>& uriSans,
                                         std::string_view trustDomain, std::string_view expected);

}  // namespace zt
