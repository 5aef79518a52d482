// Exponential backoff with jitter for reconnects. Pure: the caller supplies the randomness.
#pragma once

#include <algorithm>
#include <chrono>

namespace ambient::k8s {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double jitter = 0.2)
      : initial_(initial), max_(max), jitter_(jitter) {}

  // The next delay: initial * 2^failures capped at max, then shortened by up to `jitter`
  // (fraction) using random01 in [0, 1), so it never exceeds max.
  std::chrono::milliseconds next(double random01) {
    auto delay = initial_;
    for (int i = 0; i < failures_ && delay < max_; ++i) delay *= 2;
    delay = std::min(delay, max_);
    ++failures_;
    double factor = 1.0 - jitter_ * std::clamp(random01, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<long long>(delay.count() * factor));
  }
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double jitter_;
  int failures_ = 0;
};

}  // namespace ambient::k8s
