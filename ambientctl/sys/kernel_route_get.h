// Asks a namespace's kernel where a packet would go (RTM_GETROUTE, as `ip route get` and
// `ip -6 route get` do), with input interface and mark, for `ambientctl trace`. Touches the
// kernel (reads only).
#pragma once

#include "ambientctl/core/syn_trace.h"

namespace ambient {

// In `dst`'s family (AF_INET or AF_INET6); an unspecified `src` (0.0.0.0, ::) is not sent.
Result<RouteAnswer> kernelRouteGet(const std::string& netnsPath, const IpAddress& dst,
                                   const IpAddress& src, const std::string& iif, uint32_t mark);

}  // namespace ambient
