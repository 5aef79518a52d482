// The one set of log levels of the project (node agent, ztunnel, the k8s library's log sink).
// Pure: names and parsing only; common/log/log.h writes the lines.
#pragma once

#include <optional>
#include <string_view>

namespace ambient {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

constexpr std::string_view logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// "debug", "info", "warn" or "error"; anything else is nullopt.
constexpr std::optional<LogLevel> parseLogLevel(std::string_view name) {
  for (auto l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError})
    if (name == logLevelName(l)) return l;
  return std::nullopt;
}

}  // namespace ambient
