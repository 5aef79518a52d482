// Thin socket helpers: transparent listeners, original-source connects, address queries.
// Touches the kernel.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>

#include "common/sys/unique_fd.h"
#include "ztunnel/core/error.h"
#include "ztunnel/core/ip_addr.h"

namespace zt {

using ambient::UniqueFd;

socklen_t toSockaddr(const SocketAddr& a, sockaddr_storage* out);
SocketAddr fromSockaddr(const sockaddr_storage& s);

// Non-blocking listener. `transparent` sets IP_TRANSPARENT (TPROXY accepts any destination);
// `reusePort` (SO_REUSEPORT) lets each worker own a listener on the same port.
Result<UniqueFd> listenTcp(const SocketAddr& addr, bool transparent, int backlog, bool reusePort);

Result<SocketAddr> localAddress(int fd);  // for TPROXY'd sockets: the original destination
Result<SocketAddr> peerAddress(int fd);

// Starts a non-blocking connect to `dst`. With `source`, binds it first (IP_TRANSPARENT, port 0:
// an ephemeral port, so the two legs never share a conntrack tuple). `mark` != 0 sets SO_MARK.
Result<UniqueFd> connectFrom(const SocketAddr& dst, const std::optional<IpAddr>& source,
                             uint32_t mark);

int socketError(int fd);           // SO_ERROR
void closeWithReset(UniqueFd fd);  // SO_LINGER {1,0} then close: the peer sees RST
void setNoDelay(int fd);

}  // namespace zt
