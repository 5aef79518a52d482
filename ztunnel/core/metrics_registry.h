// Prometheus counters: the istio_tcp_* family keyed by source/destination workload labels, plus
// rejection counters; text exposition rendering. Pure (atomics only).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace zt {

struct TrafficLabels {
  std::string reporter;  // "source" (outbound) or "destination" (inbound)
  std::string sourceWorkload, sourceNamespace, sourcePrincipal;
  std::string destinationWorkload, destinationNamespace, destinationPrincipal;
  std::string destinationService;
  std::string securityPolicy;  // "mutual_tls" or "unknown"
  auto operator<=>(const TrafficLabels&) const = default;
};

struct DenialLabels {
  std::string listener;         // inbound_hbone, inbound_plaintext
  std::string reason;           // deny_policy, no_allow_match, invalid_policy, mtls_strict
  std::string policy;           // the deciding policy's name ("" when no ALLOW matched)
  std::string policyNamespace;  // its namespace
  auto operator<=>(const DenialLabels&) const = default;
};

struct TrafficCounters {
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> closed{0};
  std::atomic<uint64_t> receivedBytes{0};  // client -> server
  std::atomic<uint64_t> sentBytes{0};      // server -> client
};

class MetricsRegistry {
 public:
  // Stable per label set; connections keep the pointer for their whole life.
  std::shared_ptr<TrafficCounters> traffic(const TrafficLabels& labels);
  // ztunnel_connections_rejected_total{listener, reason}.
  void countRejected(const std::string& listener, const std::string& reason);
  uint64_t rejected(const std::string& listener, const std::string& reason) const;
  // istio_tcp_connections_denied_total{listener, reason, policy, policy_namespace}: inbound
  // connections refused by an AuthorizationPolicy or a STRICT PeerAuthentication.
  void countDenied(const DenialLabels& labels);
  uint64_t denied(const DenialLabels& labels) const;

  std::atomic<int64_t> activeConnections{0};
  std::atomic<uint64_t> configReloads{0};
  std::atomic<uint64_t> configReloadFailures{0};

  std::string renderPrometheus() const;

 private:
  mutable std::mutex mu_;
  std::map<TrafficLabels, std::shared_ptr<TrafficCounters>> traffic_;
  std::map<std::pair<std::string, std::string>, uint64_t> rejected_;
  std::map<DenialLabels, uint64_t> denied_;
};

// Escapes a Prometheus label value (backslash, quote, newline).
std::string escapeLabelValue(const std::string& v);

}  // namespace zt
