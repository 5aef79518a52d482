// Prometheus text rendering of the agent's metrics. Pure.
#include "node-agent/core/agent_metrics.h"

#include <cstdio>
#include <tuple>

namespace ambient {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void LatencyHistogram::observe(double seconds) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) ++buckets_[i];
  }
  ++count_;
  sum_ += seconds;
}

std::string LatencyHistogram::render(const std::string& name, const std::string& help) const {
  std::lock_guard lock(mu_);
  std::string out = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < kBounds.size(); ++i) {
    out += name + "_bucket{le=\"" + num(kBounds[i]) + "\"} " + std::to_string(buckets_[i]) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + num(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
  return out;
}

void AgentMetrics::countError(const std::string& kind) {
  std::lock_guard lock(mu_);
  ++errors_[kind];
}

std::string AgentMetrics::render() const {
  std::string out;
  out += "# HELP ambient_pods_enrolled Pods whose traffic is redirected to ztunnel.\n";
  out += "# TYPE ambient_pods_enrolled gauge\n";
  out += "ambient_pods_enrolled " + std::to_string(podsEnrolled.load()) + "\n";
  out +=
      "# HELP ambient_pods_not_enrolled Ambient pods of this node that are not redirected (see "
      "/readyz and ambientctl verify for why).\n";
  out += "# TYPE ambient_pods_not_enrolled gauge\n";
  out += "ambient_pods_not_enrolled " + std::to_string(podsNotEnrolled.load()) + "\n";
  for (auto [name, family, flag] :
       {std::tuple{"ambient_ipv4_fail_closed", "IPv4", &ipv4FailClosed},
        std::tuple{"ambient_ipv6_fail_closed", "IPv6", &ipv6FailClosed}}) {
    out += std::string("# HELP ") + name + " 1 while enrolled pods' " + family +
           " TCP is dropped because this node cannot redirect it (see /readyz for why).\n";
    out += std::string("# TYPE ") + name + " gauge\n";
    out += std::string(name) + " " + (flag->load() ? "1" : "0") + "\n";
  }
  out += enroll.render("ambient_enroll_duration_seconds",
                       "Time from a CNI ADD reaching the agent to its reply.");
  out += release.render("ambient_release_duration_seconds",
                        "Time from a CNI DEL reaching the agent to its reply.");
  out += "# HELP ambient_errors_total Errors by kind.\n# TYPE ambient_errors_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [kind, n] : errors_) {
      out += "ambient_errors_total{kind=\"" + kind + "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP ambient_reconcile_passes_total Successful reconcile passes.\n";
  out += "# TYPE ambient_reconcile_passes_total counter\n";
  out += "ambient_reconcile_passes_total " + std::to_string(reconcilePasses.load()) + "\n";
  return out;
}

}  // namespace ambient
