// JSON-lines logger on stderr: {"ts":..,"level":..,"msg":..,<fields>}. The binary sets the level
// once at the top; library code logs per-connection detail at debug only.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace zt {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
LogLevel parseLogLevel(std::string_view name);

using LogField = std::pair<std::string_view, std::string>;
void logLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace zt
