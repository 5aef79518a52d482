// The ring of recent policy denials and its JSON rendering (see denial_ring.h). Pure.
#include "ztunnel/core/denial_ring.h"

#include <array>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace zt {
namespace {

// RFC 3339 UTC with milliseconds, e.g. 2026-12-07T22:30:00.123Z.
std::string formatTime(int64_t unixMillis) {
  time_t secs = static_cast<time_t>(unixMillis / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  std::array<char, 96> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unixMillis % 1000));
  return buf.data();
}

}  // namespace

void DenialRing::push(DenialRecord r) {
  std::lock_guard lock(mu_);
  ++total_;
  if (capacity_ == 0) return;
  if (records_.size() >= capacity_) records_.pop_front();
  records_.push_back(std::move(r));
}

std::vector<DenialRecord> DenialRing::snapshot(uint64_t* total) const {
  std::lock_guard lock(mu_);
  if (total != nullptr) *total = total_;
  return {records_.begin(), records_.end()};
}

uint64_t DenialRing::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

std::string renderDenialsJson(const DenialRing& ring) {
  uint64_t total = 0;
  std::vector<DenialRecord> records = ring.snapshot(&total);
  nlohmann::json out;
  out["capacity"] = ring.capacity();
  out["total"] = total;
  nlohmann::json list = nlohmann::json::array();
  for (const DenialRecord& r : records)
    list.push_back({{"time", formatTime(r.unixMillis)},
                    {"unixMillis", r.unixMillis},
                    {"listener", r.listener},
                    {"source", r.source},
                    {"sourcePrincipal", r.sourcePrincipal},
                    {"destination", r.destination},
                    {"reason", r.reason},
                    {"policy", r.policy},
                    {"trigger", r.trigger}});
  out["denials"] = std::move(list);
  return out.dump() + "\n";
}

}  // namespace zt
