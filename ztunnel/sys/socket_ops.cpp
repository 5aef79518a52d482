// Socket helpers. Touches the kernel.
#include "ztunnel/sys/socket_ops.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zt {

socklen_t toSockaddr(const SocketAddr& a, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  if (a.ip.v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(out);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a.port);
    std::memcpy(&s6->sin6_addr, a.ip.bytes.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(out);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(a.port);
  std::memcpy(&s4->sin_addr, a.ip.bytes.data(), 4);
  return sizeof(sockaddr_in);
}

SocketAddr fromSockaddr(const sockaddr_storage& s) {
  SocketAddr a;
  if (s.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&s);
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(&s6->sin6_addr, kMapped, 12) == 0) {
      std::memcpy(a.ip.bytes.data(), reinterpret_cast<const uint8_t*>(&s6->sin6_addr) + 12, 4);
    } else {
      a.ip.v6 = true;
      std::memcpy(a.ip.bytes.data(), &s6->sin6_addr, 16);
    }
    a.port = ntohs(s6->sin6_port);
  } else {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&s);
    std::memcpy(a.ip.bytes.data(), &s4->sin_addr, 4);
    a.port = ntohs(s4->sin_port);
  }
  return a;
}

namespace {

Status setTransparent(int fd, bool v6) {
  int one = 1;
  int rc = v6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one))
              : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
  if (rc < 0) return fail(ErrorCode::kIo, "IP_TRANSPARENT (needs CAP_NET_ADMIN)", errno);
  return {};
}

}  // namespace

Result<UniqueFd> listenTcp(const SocketAddr& addr, bool transparent, int backlog, bool reusePort) {
  UniqueFd fd(
      ::socket(addr.ip.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(ErrorCode::kIo, "socket for " + addr.toString(), errno);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reusePort) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (addr.ip.v6 && addr.ip.isUnspecified()) {
    // [::] means both families, whatever net.ipv6.bindv6only says.
    int off = 0;
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  if (transparent) {
    if (auto st = setTransparent(fd.get(), addr.ip.v6); !st)
      return fail(st.error().wrap("listen " + addr.toString()));
  }
  sockaddr_storage ss;
  socklen_t len = toSockaddr(addr, &ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0)
    return fail(ErrorCode::kIo, "bind " + addr.toString(), errno);
  if (::listen(fd.get(), backlog) < 0)
    return fail(ErrorCode::kIo, "listen " + addr.toString(), errno);
  return fd;
}

Result<SocketAddr> localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0)
    return fail(ErrorCode::kIo, "getsockname", errno);
  return fromSockaddr(ss);
}

Result<SocketAddr> peerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0)
    return fail(ErrorCode::kIo, "getpeername", errno);
  return fromSockaddr(ss);
}

Result<UniqueFd> connectFrom(const SocketAddr& dst, const std::optional<IpAddr>& source,
                             uint32_t mark) {
  UniqueFd fd(
      ::socket(dst.ip.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(ErrorCode::kIo, "socket to " + dst.toString(), errno);
  if (mark != 0 && setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
    return fail(ErrorCode::kIo, "SO_MARK", errno);
  if (source) {
    if (auto st = setTransparent(fd.get(), dst.ip.v6); !st) return fail(st.error());
    int one = 1;
    // Let many upstream legs share the client's IP with distinct ephemeral ports.
    setsockopt(fd.get(), SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_storage ss;
    socklen_t len = toSockaddr(SocketAddr{*source, 0}, &ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0)
      return fail(ErrorCode::kIo, "bind original source " + source->toString(), errno);
  }
  setNoDelay(fd.get());
  sockaddr_storage ss;
  socklen_t len = toSockaddr(dst, &ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS)
    return fail(ErrorCode::kIo, "connect " + dst.toString(), errno);
  return fd;
}

int socketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

void closeWithReset(UniqueFd fd) {
  linger l{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace zt
