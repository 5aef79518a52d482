// Asks a namespace's kernel where a packet would go (RTM_GETROUTE, as `ip route get` does),
// with input interface and mark, for `ambientctl trace`. Touches the kernel (reads only).
#pragma once

#include "ambientctl/core/syn_trace.h"

namespace ambient {

Result<RouteAnswer> kernelRouteGet(const std::string& netnsPath, Ipv4 dst, Ipv4 src,
                                   const std::string& iif, uint32_t mark);

}  // namespace ambient
