// The denials ztunnel recorded (`GET /denials` on its admin port, see ztunnel/README.md), decoded
// once into typed values. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace ambient {

struct Denial {
  std::string time;             // RFC 3339, UTC, as ztunnel wrote it
  std::string listener;         // inbound_hbone, inbound_plaintext
  std::string source;           // ip:port ([v6]:port)
  std::string sourcePrincipal;  // "td/ns/x/sa/y", "" for plaintext
  std::string destination;      // ip:port ([v6]:port)
  std::string reason;           // deny_policy, no_allow_match, invalid_policy, mtls_strict
  std::string policy;           // namespace/name, "" when no single policy decided
  std::string trigger;          // connect (refused) or policy_update (an open one closed)

  std::string destinationAddress() const;  // the destination without its port
};

struct DenialList {
  uint64_t total = 0;           // denials ever recorded, the ones the ring dropped included
  std::vector<Denial> denials;  // oldest first
};

// Errors name the element and field that is missing or of the wrong type.
Result<DenialList> decodeDenials(std::string_view text);

}  // namespace ambient
