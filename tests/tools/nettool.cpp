// nettool: the small TCP/UDP client and servers the kernel and end-to-end tests drive inside
// network namespaces. A server answers each connection with one line:
//   "<listen-port> <local ip:port> <peer ip:port>"
// so that a client sees where its connection landed and what the server saw (original
// destination under TPROXY, original source). Addresses are "10.0.0.1:80" or "[fd00::1]:80"
// (an IPv4 peer of a dual-stack socket is written as IPv4). Touches sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// A socket address of either family.
struct Addr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family() const { return storage.ss_family; }
  sockaddr* raw() { return reinterpret_cast<sockaddr*>(&storage); }
};

std::string addrText(const Addr& a) {
  char ip[INET6_ADDRSTRLEN] = {};
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
  const uint16_t port = ntohs(in6->sin6_port);
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
  return "[" + std::string(ip) + "]:" + std::to_string(port);
}

// "10.0.0.1:80" or "[fd00::1]:80".
bool parseAddr(const std::string& text, Addr& out) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  out = {};
  const auto port = htons(static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1)));
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = port;
    out.len = sizeof(sockaddr_in6);
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6->sin6_addr) == 1;
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
  in->sin_family = AF_INET;
  in->sin_port = port;
  out.len = sizeof(sockaddr_in);
  return inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1;
}

// `addr` of serve's --addr: an IPv6 address is written bare ("::1"), as ip(8) does.
std::string hostPort(const std::string& addr, int port) {
  bool v6 = addr.find(':') != std::string::npos;
  return (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

int usage() {
  std::fprintf(stderr,
               "usage: nettool serve [--tproxy] [--addr IP] --port P [--port P...]\n"
               "       nettool connect IP:PORT|[IP6]:PORT [--timeout-ms N]\n"
               "       nettool udp-serve --port P [--timeout-ms N]   (both families)\n"
               "       nettool udp-send IP:PORT|[IP6]:PORT\n"
               "exit codes: 0 ok, 1 no connection/answer, 2 usage or setup error\n");
  return 2;
}

int serve(bool tproxy, const std::string& addr, const std::vector<int>& ports) {
  std::vector<pollfd> fds;
  for (int port : ports) {
    Addr a;
    if (!parseAddr(hostPort(addr, port), a)) return usage();
    int s = socket(a.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const bool v6 = a.family() == AF_INET6;
    if (v6) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (tproxy && (v6 ? setsockopt(s, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one)
                      : setsockopt(s, SOL_IP, IP_TRANSPARENT, &one, sizeof one)) != 0) {
      std::perror(v6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT");
      return 2;
    }
    if (bind(s, a.raw(), a.len) != 0 || listen(s, 128) != 0) {
      std::perror("bind/listen");
      return 2;
    }
    fds.push_back({s, POLLIN, 0});
  }
  std::printf("listening\n");
  std::fflush(stdout);
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return 2;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      Addr peer, local;
      peer.len = local.len = sizeof(sockaddr_storage);
      int c = accept4(fds[i].fd, peer.raw(), &peer.len, SOCK_CLOEXEC);
      if (c < 0) continue;
      getsockname(c, local.raw(), &local.len);
      std::string line =
          std::to_string(ports[i]) + " " + addrText(local) + " " + addrText(peer) + "\n";
      std::fputs(line.c_str(), stdout);
      std::fflush(stdout);
      (void)!write(c, line.data(), line.size());
      close(c);
    }
  }
}

int connectTo(const std::string& target, int timeoutMs) {
  Addr a;
  if (!parseAddr(target, a)) return usage();
  int s = socket(a.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(s, a.raw(), a.len) != 0) {
    std::fprintf(stderr, "connect %s: %s\n", target.c_str(), std::strerror(errno));
    return 1;
  }
  char buf[512];
  ssize_t n = read(s, buf, sizeof buf - 1);
  if (n <= 0) {
    std::fprintf(stderr, "no answer from %s\n", target.c_str());
    return 1;
  }
  buf[n] = 0;
  std::fputs(buf, stdout);
  return 0;
}

int udpServe(int port, int timeoutMs) {
  // One dual-stack socket: IPv4 senders arrive as IPv4-mapped addresses.
  int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int zero = 0;
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 2;
  std::printf("listening\n");
  std::fflush(stdout);
  pollfd p{s, POLLIN, 0};
  if (poll(&p, 1, timeoutMs) <= 0) return 1;
  Addr peer;
  peer.len = sizeof(sockaddr_storage);
  char buf[512];
  if (recvfrom(s, buf, sizeof buf, 0, peer.raw(), &peer.len) < 0) return 1;
  std::printf("udp from %s\n", addrText(peer).c_str());
  return 0;
}

int udpSend(const std::string& target) {
  Addr a;
  if (!parseAddr(target, a)) return usage();
  int s = socket(a.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char msg[] = "ping";
  return sendto(s, msg, sizeof msg, 0, a.raw(), a.len) < 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  bool tproxy = false;
  std::string addr = "0.0.0.0";
  std::vector<int> ports;
  int timeoutMs = 3000;
  std::string target;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tproxy")
      tproxy = true;
    else if (a == "--addr" && i + 1 < argc)
      addr = argv[++i];
    else if (a == "--port" && i + 1 < argc)
      ports.push_back(std::atoi(argv[++i]));
    else if (a == "--timeout-ms" && i + 1 < argc)
      timeoutMs = std::atoi(argv[++i]);
    else if (target.empty() && a[0] != '-')
      target = a;
    else
      return usage();
  }
  if (cmd == "serve" && !ports.empty()) return serve(tproxy, addr, ports);
  if (cmd == "connect" && !target.empty()) return connectTo(target, timeoutMs);
  if (cmd == "udp-serve" && ports.size() == 1) return udpServe(ports[0], timeoutMs);
  if (cmd == "udp-send" && !target.empty()) return udpSend(target);
  return usage();
}
