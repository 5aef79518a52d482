// The project's one logger: JSON lines on stderr, {"ts":..,"level":..,"msg":..,<fields>}, fields
// in the order given. Binaries set the level once, at the top; libraries log at debug only.
// Touches stderr; thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log/log_level.h"

namespace ambient {

void setLogLevel(LogLevel level);
// For a --log-level flag: an unknown name leaves the level as it is (info by default).
void setLogLevel(std::string_view name);
bool logEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;
using LogFieldList = std::vector<std::pair<std::string, std::string>>;

void logLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
void logLine(LogLevel level, std::string_view msg, const LogFieldList& fields);

// The line logLine writes, with the timestamp given: {"ts":..,"level":..,"msg":..,<fields>}\n.
std::string formatLogLine(LogLevel level, std::string_view msg, const LogFieldList& fields,
                          std::string_view ts);

}  // namespace ambient
