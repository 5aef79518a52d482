// `ambientctl policies`: the AuthorizationPolicies and PeerAuthentications of ztunnel's view that
// select one pod, with the denials ztunnel recorded for it; and the policy verdict that
// `ambientctl trace` adds to its hops. Both evaluate with ztunnel's own engine (zt::authz), so
// they say what ztunnel does. Pure.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ambientctl/core/denial_list.h"
#include "common/core/ip_address.h"
#include "ztunnel/core/workload_view.h"

namespace ambient {

struct PolicyReport {
  std::string workload;  // namespace/name
  std::string identity;  // spiffe://...
  bool ambient = false;  // protocol HBONE: ztunnel enforces inbound policy
  std::vector<std::string> addresses;
  // ztunnel's /config_dump policyStatus entries of the AuthorizationPolicies that select the
  // workload, in evaluation order (mesh-wide, namespace, bound).
  std::vector<nlohmann::json> authorization;
  std::string mtlsMode;               // for plaintext inbound: STRICT or PERMISSIVE
  nlohmann::json mtlsDecidedBy;       // the PeerAuthentication's entry, null for the default
  std::vector<std::string> rejected;  // view policies too broken to scope (fail closed)
  std::vector<Denial> denials;        // those whose destination is one of the addresses
  std::string denialsUnavailable;     // why ztunnel's denials could not be read, "" when read
};

// kNotFound when the view has no workload namespace/name.
Result<PolicyReport> reportPolicies(const zt::WorkloadView& view, std::string_view podNamespace,
                                    std::string_view podName,
                                    const std::vector<Denial>& denials = {});

std::string renderPolicyReport(const PolicyReport& report);
nlohmann::json policyReportJson(const PolicyReport& report);

// The trace's last hop: what the destination's ztunnel decides for a connection from `src` to
// `dst`:`port`, and by which policy. The source's identity is its workload's when it is ambient
// (its ztunnel speaks HBONE) or when `port` is 15008 (HBONE from its own sidecar or waypoint);
// otherwise the connection arrives as plaintext and PeerAuthentication applies too. A service
// VIP is evaluated at each of its endpoints, with the endpoint's target port.
std::string describePolicyVerdict(const zt::WorkloadView& view, const IpAddress& src,
                                  const IpAddress& dst, uint16_t port);

}  // namespace ambient
