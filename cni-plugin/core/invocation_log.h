// One JSON line per plugin invocation for the `logFile` config field, filtered by `logLevel`:
// "debug" (every call, plus the agent request and reply), "info" (every call; the default and
// what an unknown value means), "warn" (failed calls and warnings such as an ADD allowed
// while the agent was down), "error" (failed calls only), "none". Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cni-plugin/core/run_plugin.h"

namespace ambient::cni {

// The line (without newline) to append, or nullopt when logLevel filters it out.
// `unixMicros` is the start time, `durationUs` how long runPlugin took.
std::optional<std::string> renderLogLine(const CniOutcome& o, int64_t unixMicros,
                                         int64_t durationUs);

// "2024-05-01T12:00:00.123456Z"
std::string renderUtcTime(int64_t unixMicros);

}  // namespace ambient::cni
