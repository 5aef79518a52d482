// ambient-cni: thin main of the chained CNI plugin; reads env + stdin, asks the agent over
// its Unix socket, prints the result or CNI error JSON. Touches files and sockets.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include "cni-plugin/core/cni_request.h"
#include "common/core/agent_protocol.h"

using namespace ambient;
using json = nlohmann::ordered_json;

namespace {
std::string env(const char* n) { const char* v = std::getenv(n); return v ? v : ""; }

int failOut(const std::string& ver, uint32_t code, const std::string& msg, const std::string& det = "") {
  std::cout << cni::errorJson(ver, {code, msg, det}) << "\n";
  return 1;
}

// One request line, one reply line; nullopt-like empty string plus errorText on failure.
bool askAgent(const std::string& path, int timeoutMs, const std::string& line, std::string& reply,
              std::string& err) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { err = std::strerror(errno); return false; }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err = std::string("connect: ") + std::strerror(errno); ::close(fd); return false;
  }
  std::string out = line + "\n";
  if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
    err = std::string("send: ") + std::strerror(errno); ::close(fd); return false;
  }
  char buf[4096];
  while (reply.find('\n') == std::string::npos && reply.size() < kMaxMessageBytes) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (reply.empty()) { err = "no reply (timeout or closed)"; return false; }
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  return true;
}
}  // namespace

int main() {
  const std::string cmd = env("CNI_COMMAND");
  std::string input;
  char buf[65536];
  while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
    input.append(buf, static_cast<size_t>(std::cin.gcount()));
    if (input.size() > cni::kMaxStdinBytes) return failOut("", kCniErrDecode, "stdin larger than 1 MiB");
  }
  if (cmd.empty()) return failOut("", kCniErrInvalidEnv, "CNI_COMMAND is not set");
  json conf = json::parse(input, nullptr, false);
  if (cmd == "VERSION") {
    std::string v = conf.is_object() ? conf.value("cniVersion", "") : "";
    std::cout << cni::versionJson(v) << "\n";
    return 0;
  }
  if (!conf.is_object()) return failOut("", kCniErrDecode, "network config on stdin is not valid JSON");
  if (!conf.contains("cniVersion") || !conf["cniVersion"].is_string())
    return failOut("", kCniErrIncompatibleVersion, "network config has no cniVersion");
  const std::string ver = conf["cniVersion"];
  if (!cni::isSupportedVersion(ver))
    return failOut("", kCniErrIncompatibleVersion, "unsupported cniVersion " + ver,
                   "supported: 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0");
  const std::string sock = conf.value("agentSocket", std::string(kDefaultAgentSocket));
  const int timeoutMs = conf.value("agentTimeoutMs", 5000);
  if (cmd == "GC") return 0;
  if (cmd == "STATUS") {
    std::string reply, err;
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{}; a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock.c_str(), sizeof(a.sun_path) - 1);
    bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (fd >= 0) ::close(fd);
    if (!ok) return failOut(ver, 50, "ambient node agent socket " + sock + " does not answer");
    return 0;
  }
  PodCommand pc;
  if (cmd == "ADD") pc = PodCommand::kAdd;
  else if (cmd == "DEL") pc = PodCommand::kDel;
  else if (cmd == "CHECK") pc = PodCommand::kCheck;
  else return failOut(ver, kCniErrInvalidEnv, "unknown CNI_COMMAND " + cmd);
  for (const char* n : {"CNI_CONTAINERID", "CNI_IFNAME"})
    if (env(n).empty()) return failOut(ver, kCniErrInvalidEnv, std::string(n) + " is not set");
  if (pc != PodCommand::kDel && env("CNI_NETNS").empty())
    return failOut(ver, kCniErrInvalidEnv, "CNI_NETNS is not set");
  bool hasPrev = conf.contains("prevResult") && conf["prevResult"].is_object();
  if (pc == PodCommand::kAdd && !hasPrev)
    return failOut(ver, kCniErrInvalidConfig, "ambient-cni must be chained after a plugin that provides prevResult");
  auto args = cni::parseCniArgs(env("CNI_ARGS"));
  auto echo = [&]() {
    if (pc == PodCommand::kAdd) {
      json r = conf["prevResult"];
      r["cniVersion"] = ver;
      std::cout << r.dump() << "\n";
    }
    return 0;
  };
  if (!args.count("K8S_POD_NAME") || !args.count("K8S_POD_NAMESPACE")) return echo();
  PodRequest req{.command = pc, .containerId = env("CNI_CONTAINERID"), .netns = env("CNI_NETNS"),
                 .ifname = env("CNI_IFNAME"), .podNamespace = args["K8S_POD_NAMESPACE"],
                 .podName = args["K8S_POD_NAME"], .podUid = args["K8S_POD_UID"]};
  if (hasPrev) req.ips = cni::podIps(conf["prevResult"].dump(), req.ifname);
  std::string reply, err;
  if (!askAgent(sock, timeoutMs, encodeRequest(req), reply, err)) {
    if (pc == PodCommand::kDel) return 0;  // the agent reconciles released pods itself
    return failOut(ver, kCniErrTryAgainLater,
                   "ambient node agent unreachable at " + sock +
                       ": ambient pods cannot start while the node agent is down", err);
  }
  auto r = decodeReply(reply);
  if (!r) return failOut(ver, kCniErrDecode, "bad reply from agent: " + r.error().message());
  if (r->verdict == PodVerdict::kError)
    return failOut(ver, r->cniCode ? r->cniCode : kCniErrTryAgainLater, r->message);
  return echo();
}
