// The last inbound connections refused or closed by policy, for `GET /denials` on the admin port
// (ambientctl reads it). A bounded ring shared by the worker threads. Pure (no clock: callers
// pass the time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace zt {

struct DenialRecord {
  int64_t unixMillis = 0;       // when it was denied (wall clock, ms since the epoch)
  std::string listener;         // inbound_hbone, inbound_plaintext
  std::string source;           // "ip:port" of the client ("[v6]:port")
  std::string sourcePrincipal;  // "td/ns/x/sa/y", "" for plaintext
  std::string destination;      // "ip:port"
  std::string reason;           // deny_policy, no_allow_match, invalid_policy, mtls_strict
  std::string policy;           // "namespace/name" of the deciding policy, "" when none
  std::string trigger;          // "connect" (refused) or "policy_update" (open one closed)
};

class DenialRing {
 public:
  static constexpr size_t kDefaultCapacity = 100;
  explicit DenialRing(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Thread-safe. Drops the oldest record beyond the capacity.
  void push(DenialRecord r);
  // Thread-safe. Oldest first; `total`, when given, is read under the same lock.
  std::vector<DenialRecord> snapshot(uint64_t* total = nullptr) const;
  uint64_t total() const;  // records ever pushed, dropped ones included
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::deque<DenialRecord> records_;
  uint64_t total_ = 0;
};

// {"capacity":100,"total":N,"denials":[{"time":"2026-12-07T22:30:00.123Z","unixMillis":...,
//  "listener":...,"source":...,"sourcePrincipal":...,"destination":...,"reason":...,
//  "policy":...,"trigger":...}, ...]}, oldest first.
std::string renderDenialsJson(const DenialRing& ring);

}  // namespace zt
