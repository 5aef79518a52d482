// The real AgentClient over the agent's Unix socket. Touches sockets.
#include "cni-plugin/sys/agent_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/core/agent_protocol.h"
#include "common/sys/unique_fd.h"

namespace ambient::cni {
namespace {

Error unavailable(const AgentEndpoint& at, const std::string& what, int err) {
  return Error{ErrorCode::kUnavailable, err, what + " " + at.socketPath};
}

// A connected socket with SO_RCVTIMEO/SO_SNDTIMEO set to the endpoint's timeout.
Result<int> connectTo(const AgentEndpoint& at) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (at.socketPath.size() >= sizeof(addr.sun_path))
    return fail(ErrorCode::kInvalidInput, "agent socket path too long: " + at.socketPath);
  std::memcpy(addr.sun_path, at.socketPath.c_str(), at.socketPath.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(unavailable(at, "socket() for", errno));
  timeval tv{at.timeoutMs / 1000, (at.timeoutMs % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    return fail(unavailable(at, "connect to", e));
  }
  return fd;
}

}  // namespace

Result<std::string> UnixAgentClient::ask(const AgentEndpoint& at, const std::string& line) {
  auto c = connectTo(at);
  if (!c) return fail(c.error());
  UniqueFd fd(*c);
  std::string out = line;
  if (out.empty() || out.back() != '\n') out += '\n';
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(unavailable(at, "send to", errno));
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos && reply.size() <= kMaxMessageBytes) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(unavailable(at, "no reply (timeout) from", errno));
    if (n == 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  if (reply.empty()) return fail(unavailable(at, "connection closed without a reply by", 0));
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  return reply;
}

}  // namespace ambient::cni
