// Appends one line to a log file (O_APPEND, created 0644, one write so concurrent plugin
// processes do not interleave lines). Touches files.
#pragma once

#include <string>

#include "common/core/error.h"

namespace ambient::cni {

Status appendLine(const std::string& path, const std::string& line);

}  // namespace ambient::cni
