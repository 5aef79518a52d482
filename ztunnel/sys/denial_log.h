// Records one inbound connection denied by policy: istio_tcp_connections_denied_total, a
// ztunnel_connections_rejected_total count (reason "policy_denied") and one log line with the
// source identity, the destination and the policy. Logs only; no socket work.
#pragma once

#include <string>

#include "common/log/log.h"
#include "ztunnel/core/inbound_authz.h"
#include "ztunnel/sys/proxy_state.h"

namespace zt {

inline void recordDenial(ProxyState& state, const char* listener, const InboundAuthzVerdict& v,
                         const std::string& source, const std::string& destination) {
  state.metrics.countDenied({listener, v.reason, v.policy, v.policyNamespace});
  state.metrics.countRejected(listener, "policy_denied");
  ambient::logLine(
      ambient::LogLevel::kInfo, "connection denied by policy",
      {{"listener", listener},
       {"source", source},
       {"source_principal", v.sourcePrincipal.empty() ? "none" : v.sourcePrincipal},
       {"destination", destination},
       {"reason", v.reason},
       {"policy", v.policyNamespace.empty() ? v.policy : v.policyNamespace + "/" + v.policy}});
}

// AUDIT and dry-run policies that matched: reported only, one line per connection.
inline void recordAudit(const char* listener, const InboundAuthzVerdict& v,
                        const std::string& source, const std::string& destination) {
  for (const std::string& key : v.auditHits)
    ambient::logLine(ambient::LogLevel::kInfo, "audit policy matched",
                     {{"listener", listener},
                      {"source", source},
                      {"source_principal", v.sourcePrincipal.empty() ? "none" : v.sourcePrincipal},
                      {"destination", destination},
                      {"policy", key},
                      {"allowed", v.allowed ? "true" : "false"}});
}

}  // namespace zt
