// The agent's Prometheus metrics: pods enrolled, enroll/release latency histograms, errors by
// kind, reconcile passes; rendered in the text exposition format. Thread-safe. Pure.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace ambient {

class LatencyHistogram {
 public:
  static constexpr std::array<double, 10> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                     0.005,  0.01,    0.025,  0.1,   1.0};
  void observe(double seconds);
  std::string render(const std::string& name, const std::string& help) const;

 private:
  mutable std::mutex mu_;
  std::array<uint64_t, kBounds.size()> buckets_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

class AgentMetrics {
 public:
  LatencyHistogram enroll;
  LatencyHistogram release;
  std::atomic<uint64_t> reconcilePasses{0};
  std::atomic<uint64_t> podsEnrolled{0};
  std::atomic<uint64_t> podsNotEnrolled{0};  // ambient pods of this node outside the mesh
  std::atomic<bool> ipv4FailClosed{false};   // enrolled pods' IPv4 TCP dropped, not redirected
  std::atomic<bool> ipv6FailClosed{false};   // enrolled pods' IPv6 TCP dropped, not redirected

  void countError(const std::string& kind);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> errors_;
};

}  // namespace ambient
