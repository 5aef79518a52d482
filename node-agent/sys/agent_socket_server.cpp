// The agent's Unix socket server for the plugin protocol. Touches sockets and files.
#include "node-agent/sys/agent_socket_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace ambient {
namespace {

constexpr int kMaxInFlight = 64;  // connections served at once

void writeAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

PodReply protocolError(uint32_t code, std::string msg) {
  return PodReply{PodVerdict::kError, code, std::move(msg)};
}

}  // namespace

Result<std::unique_ptr<AgentSocketServer>> AgentSocketServer::listen(const std::string& path,
                                                                     Handler handler,
                                                                     Complaint complain,
                                                                     int readTimeoutMs) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return fail(ErrorCode::kInvalidInput, "agent socket path " + path + " is too long");
  }
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return fail(ErrorCode::kIo, "create socket directory " + dir, errno);
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(ErrorCode::kIo, "create agent socket", errno);
  ::unlink(path.c_str());  // a stale socket from a previous run
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, path.size());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(ErrorCode::kIo, "bind agent socket " + path, errno);
  }
  ::chmod(path.c_str(), 0600);
  if (::listen(fd.get(), SOMAXCONN) != 0) return fail(ErrorCode::kIo, "listen on " + path, errno);
  return std::unique_ptr<AgentSocketServer>(
      new AgentSocketServer(std::move(fd), std::move(handler), std::move(complain), readTimeoutMs));
}

void AgentSocketServer::serve(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    {
      // Back-pressure instead of refusal: with every slot taken, further plugins wait in the
      // listen backlog (their own agentTimeoutMs bounds the wait). Closing an accepted
      // connection before reading its request made the plugin's send fail (EPIPE).
      std::unique_lock lock(mu_);
      if (!slotFree_.wait_for(lock, std::chrono::milliseconds(200),
                              [this] { return inFlight_ < kMaxInFlight; })) {
        continue;
      }
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int conn = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    {
      std::lock_guard lock(mu_);
      ++inFlight_;
    }
    std::thread([this, conn] {
      serveOne(conn);
      ::close(conn);
      std::lock_guard lock(mu_);
      --inFlight_;
      slotFree_.notify_all();
    }).detach();
  }
  std::unique_lock lock(mu_);
  slotFree_.wait(lock, [this] { return inFlight_ == 0; });  // let replies in flight finish
}

void AgentSocketServer::serveOne(int conn) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
    complain_("refused a connection from uid " + std::to_string(cred.uid) + " pid " +
              std::to_string(cred.pid) + ": only root may use the agent socket");
    writeAll(conn, encodeReply(protocolError(kCniErrInvalidConfig,
                                             "only root may use the ambient agent socket")));
    return;
  }
  std::string buf;
  char chunk[4096];
  for (;;) {
    pollfd p{conn, POLLIN, 0};
    if (::poll(&p, 1, timeoutMs_) <= 0) {
      complain_("plugin connection timed out before a full request arrived");
      return;
    }
    ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.find('\n') != std::string::npos) break;
    if (buf.size() > kMaxMessageBytes) break;
  }
  auto nl = buf.find('\n');
  auto request = decodeRequest(nl == std::string::npos ? buf : buf.substr(0, nl));
  if (!request) {
    complain_("bad request on the agent socket: " + request.error().message());
    writeAll(conn, encodeReply(protocolError(kCniErrDecode, request.error().message())));
    return;
  }
  writeAll(conn, encodeReply(handler_(*request)));
}

}  // namespace ambient
