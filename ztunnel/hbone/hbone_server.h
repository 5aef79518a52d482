// Inbound HBONE (15008): takes an accepted socket, presents the identity of the workload the
// client dialled and serves its CONNECT streams. Touches the kernel and OpenSSL.
#pragma once

#include "ztunnel/core/ip_addr.h"
#include "ztunnel/sys/proxy_state.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

void acceptInboundHbone(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer,
                        const SocketAddr& dst);

}  // namespace zt
