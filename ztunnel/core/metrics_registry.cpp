// Counter storage and Prometheus text rendering. Pure.
#include "ztunnel/core/metrics_registry.h"

#include <sstream>

namespace zt {

std::shared_ptr<TrafficCounters> MetricsRegistry::traffic(const TrafficLabels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = traffic_[labels];
  if (!slot) slot = std::make_shared<TrafficCounters>();
  return slot;
}

void MetricsRegistry::countRejected(const std::string& listener, const std::string& reason) {
  std::lock_guard lock(mu_);
  ++rejected_[{listener, reason}];
}

uint64_t MetricsRegistry::rejected(const std::string& listener, const std::string& reason) const {
  std::lock_guard lock(mu_);
  auto it = rejected_.find({listener, reason});
  return it == rejected_.end() ? 0 : it->second;
}

void MetricsRegistry::countDenied(const DenialLabels& labels) {
  std::lock_guard lock(mu_);
  ++denied_[labels];
}

uint64_t MetricsRegistry::denied(const DenialLabels& labels) const {
  std::lock_guard lock(mu_);
  auto it = denied_.find(labels);
  return it == denied_.end() ? 0 : it->second;
}

std::string escapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

std::string labelText(const TrafficLabels& l) {
  auto kv = [](const char* k, const std::string& v) {
    return std::string(k) + "=\"" + escapeLabelValue(v.empty() ? "unknown" : v) + "\"";
  };
  return "{" + kv("reporter", l.reporter) + "," + kv("source_workload", l.sourceWorkload) + "," +
         kv("source_workload_namespace", l.sourceNamespace) + "," +
         kv("source_principal", l.sourcePrincipal) + "," +
         kv("destination_workload", l.destinationWorkload) + "," +
         kv("destination_workload_namespace", l.destinationNamespace) + "," +
         kv("destination_principal", l.destinationPrincipal) + "," +
         kv("destination_service", l.destinationService) + "," + kv("request_protocol", "tcp") +
         "," + kv("connection_security_policy", l.securityPolicy) + "}";
}

}  // namespace

std::string MetricsRegistry::renderPrometheus() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  struct Family {
    const char* name;
    const char* help;
    std::atomic<uint64_t> TrafficCounters::*field;
  };
  const Family families[] = {
      {"istio_tcp_connections_opened_total", "TCP connections opened", &TrafficCounters::opened},
      {"istio_tcp_connections_closed_total", "TCP connections closed", &TrafficCounters::closed},
      {"istio_tcp_sent_bytes_total", "Bytes sent to the client (response direction)",
       &TrafficCounters::sentBytes},
      {"istio_tcp_received_bytes_total", "Bytes received from the client (request direction)",
       &TrafficCounters::receivedBytes},
  };
  for (const Family& f : families) {
    out << "# HELP " << f.name << " " << f.help << ".\n# TYPE " << f.name << " counter\n";
    for (const auto& [labels, c] : traffic_)
      out << f.name << labelText(labels) << " " << ((*c).*(f.field)).load() << "\n";
  }
  out << "# HELP ztunnel_connections_rejected_total Connections refused or reset, by reason.\n"
         "# TYPE ztunnel_connections_rejected_total counter\n";
  for (const auto& [key, n] : rejected_)
    out << "ztunnel_connections_rejected_total{listener=\"" << escapeLabelValue(key.first)
        << "\",reason=\"" << escapeLabelValue(key.second) << "\"} " << n << "\n";
  out << "# HELP istio_tcp_connections_denied_total Inbound connections denied by an "
         "AuthorizationPolicy or a STRICT PeerAuthentication.\n"
         "# TYPE istio_tcp_connections_denied_total counter\n";
  for (const auto& [key, n] : denied_)
    out << "istio_tcp_connections_denied_total{listener=\"" << escapeLabelValue(key.listener)
        << "\",reason=\"" << escapeLabelValue(key.reason) << "\",policy=\""
        << escapeLabelValue(key.policy) << "\",policy_namespace=\""
        << escapeLabelValue(key.policyNamespace) << "\"} " << n << "\n";
  out << "# HELP ztunnel_active_connections Proxied connections open now.\n"
         "# TYPE ztunnel_active_connections gauge\n"
      << "ztunnel_active_connections " << activeConnections.load() << "\n";
  out << "# TYPE ztunnel_config_reloads_total counter\nztunnel_config_reloads_total "
      << configReloads.load() << "\n";
  out << "# TYPE ztunnel_config_reload_failures_total counter\n"
         "ztunnel_config_reload_failures_total "
      << configReloadFailures.load() << "\n";
  return out.str();
}

}  // namespace zt
