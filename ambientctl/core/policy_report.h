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
// `dst`:`port`. The source's identity is its workload's when that workload is ambient (HBONE),
// else the connection arrives as plaintext (PeerAuthentication applies). Names the deciding
// policy, or says that none selects the workload.
std::string describePolicyVerdict(const zt::WorkloadView& view, const IpAddress& src,
                                  const IpAddress& dst, uint16_t port);

}  // namespace ambient
