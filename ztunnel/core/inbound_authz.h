// The inbound authorization verdict for one connection: the view's PeerAuthentications (plaintext
// only) and AuthorizationPolicies evaluated for the destination workload. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ztunnel/core/ip_addr.h"
#include "ztunnel/core/workload_view.h"

namespace zt {

struct InboundAuthzVerdict {
  bool allowed = true;
  // Denied: deny_policy, no_allow_match, invalid_policy, mtls_strict. Allowed: allow_policy
  // (`policy` is the ALLOW policy that matched), or "" when no ALLOW policy selects the workload.
  std::string reason;
  std::string policy;                  // the deciding policy's name, "" when none decided alone
  std::string policyNamespace;         // its namespace
  std::string sourcePrincipal;         // "td/ns/x/sa/y" as evaluated, "" for plaintext
  std::vector<std::string> auditHits;  // "ns/name" of AUDIT and dry-run policies that matched
};

// `peerSpiffeUri` is the verified peer identity ("spiffe://td/ns/x/sa/y"), empty for plaintext;
// `plaintext` also applies PeerAuthentication. No destination workload, or a view without
// policies: allowed (nothing selects the connection).
InboundAuthzVerdict computeInboundAuthz(const WorkloadView& view, const Workload* destination,
                                        std::string_view peerSpiffeUri, const IpAddr& sourceIp,
                                        const IpAddr& destinationIp, uint16_t destinationPort,
                                        bool plaintext);

}  // namespace zt
