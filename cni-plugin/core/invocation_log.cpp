// The invocation log line of ambient-cni. Pure.
#include "cni-plugin/core/invocation_log.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace ambient::cni {

std::string renderUtcTime(int64_t unixMicros) {
  time_t secs = static_cast<time_t>(unixMicros / 1000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unixMicros % 1000000));
  return buf;
}

std::optional<std::string> renderLogLine(const CniOutcome& o, int64_t unixMicros,
                                         int64_t durationUs) {
  const std::string& level = o.logLevel;
  if (o.logFile.empty() || level == "none") return std::nullopt;
  if (level == "error" && o.exitCode == 0) return std::nullopt;
  if (level == "warn" && o.exitCode == 0 && o.warning.empty()) return std::nullopt;
  nlohmann::ordered_json j;
  j["time"] = renderUtcTime(unixMicros);
  j["level"] = o.exitCode != 0 ? "error" : o.warning.empty() ? "info" : "warn";
  j["command"] = o.command;
  j["containerId"] = o.containerId;
  j["pod"] = o.pod;
  j["verdict"] = o.verdict;
  j["durationUs"] = durationUs;
  j["error"] = o.error;
  if (o.exitCode != 0) j["cniCode"] = o.cniCode;
  if (!o.warning.empty()) j["warning"] = o.warning;
  if (level == "debug") {
    j["agentRequest"] = o.agentRequest;
    j["agentReply"] = o.agentReply;
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace ambient::cni
