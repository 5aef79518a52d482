// JSON-lines logging to stderr for the node agent's binaries: one object per line with time,
// level, message and fields. Touches stderr.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ambient {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void setLogLevel(const std::string& level);
void logLine(LogLevel level, const std::string& msg,
             const std::vector<std::pair<std::string, std::string>>& fields = {});

}  // namespace ambient
