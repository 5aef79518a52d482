// Records one inbound connection denied by policy: istio_tcp_connections_denied_total, a
// ztunnel_connections_rejected_total count, the ring behind GET /denials and one log line with
// the source identity, the destination and the policy. Logs only; no socket work.
#pragma once

#include <chrono>
#include <string>

#include "common/log/log.h"
#include "ztunnel/core/inbound_authz.h"
#include "ztunnel/sys/proxy_state.h"

namespace zt {

// Why the denial happened: a new connection refused, or an open one closed by a policy update.
enum class DenialTrigger { kConnect, kPolicyUpdate };

inline void recordDenial(ProxyState& state, const char* listener, const InboundAuthzVerdict& v,
                         const std::string& source, const std::string& destination,
                         DenialTrigger trigger = DenialTrigger::kConnect) {
  bool update = trigger == DenialTrigger::kPolicyUpdate;
  std::string policy = v.policyNamespace.empty() ? v.policy : v.policyNamespace + "/" + v.policy;
  std::string principal = v.sourcePrincipal.empty() ? "none" : v.sourcePrincipal;
  state.metrics.countDenied({listener, v.reason, v.policy, v.policyNamespace});
  state.metrics.countRejected(listener, update ? "policy_update" : "policy_denied");
  auto now = std::chrono::system_clock::now().time_since_epoch();
  state.denials.push({std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), listener,
                      source, v.sourcePrincipal, destination, v.reason, policy,
                      update ? "policy_update" : "connect"});
  // The second text is upstream ztunnel's (src/proxy/connection_manager.rs, PolicyWatcher).
  ambient::logLine(ambient::LogLevel::kInfo,
                   update ? "connection closed because it's no longer allowed after a policy update"
                          : "connection denied by policy",
                   {{"listener", listener},
                    {"source", source},
                    {"source_principal", principal},
                    {"destination", destination},
                    {"reason", v.reason},
                    {"policy", policy}});
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
