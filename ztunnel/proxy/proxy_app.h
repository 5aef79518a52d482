// The whole proxy: workers, control ports, config reload, SIGTERM drain. Returns an exit code.
#pragma once

#include "ztunnel/core/options.h"

namespace zt {

int runProxy(const Options& opts);

}  // namespace zt
