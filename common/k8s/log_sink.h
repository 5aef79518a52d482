// The log sink the k8s library reports through (the agent plugs its JSON logger in). Pure.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ambient::k8s {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogFields = std::vector<std::pair<std::string, std::string>>;
// Called from the library's threads; must be thread-safe. An empty sink drops the messages.
using LogSink =
    std::function<void(LogLevel level, const std::string& message, const LogFields& fields)>;

}  // namespace ambient::k8s
