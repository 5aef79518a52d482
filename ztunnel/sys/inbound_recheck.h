// After a view reload with policies: re-evaluate every open inbound connection of this worker
// against the new view and close the ones now denied (upstream ztunnel's PolicyWatcher).
// Loop thread only. Touches the kernel (resets sockets).
#pragma once

#include <cstddef>

#include "ztunnel/sys/proxy_state.h"

namespace zt {

// Returns how many connections it closed.
size_t recheckInboundConnections(WorkerContext& ctx);

}  // namespace zt
