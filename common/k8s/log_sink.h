// The log sink the k8s library reports through (the agent plugs its JSON logger in). Pure.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/log/log_level.h"

namespace ambient::k8s {

using ambient::LogLevel;  // the project's one set of levels (common/log/log_level.h)

using LogFields = std::vector<std::pair<std::string, std::string>>;
// Called from the library's threads; must be thread-safe. An empty sink drops the messages.
using LogSink =
    std::function<void(LogLevel level, const std::string& message, const LogFields& fields)>;

}  // namespace ambient::k8s
