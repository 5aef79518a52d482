// nettool: the small TCP/UDP client and servers the kernel and end-to-end tests drive inside
// network namespaces. A server answers each connection with one line:
//   "<listen-port> <local ip:port> <peer ip:port>"
// so that a client sees where its connection landed and what the server saw (original
// destination under TPROXY, original source). Touches sockets.
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

std::string addrText(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

bool parseAddr(const std::string& text, sockaddr_in& out) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1)));
  return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out.sin_addr) == 1;
}

int usage() {
  std::fprintf(stderr,
               "usage: nettool serve [--tproxy] [--addr IP] --port P [--port P...]\n"
               "       nettool connect IP:PORT [--timeout-ms N]\n"
               "       nettool udp-serve --port P [--timeout-ms N]\n"
               "       nettool udp-send IP:PORT\n"
               "exit codes: 0 ok, 1 no connection/answer, 2 usage or setup error\n");
  return 2;
}

int serve(bool tproxy, const std::string& addr, const std::vector<int>& ports) {
  std::vector<pollfd> fds;
  for (int port : ports) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (tproxy && setsockopt(s, SOL_IP, IP_TRANSPARENT, &one, sizeof one) != 0) {
      std::perror("IP_TRANSPARENT");
      return 2;
    }
    sockaddr_in a{};
    if (!parseAddr(addr + ":" + std::to_string(port), a) ||
        bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s, 128) != 0) {
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
      sockaddr_in peer{}, local{};
      socklen_t len = sizeof peer;
      int c = accept4(fds[i].fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c < 0) continue;
      len = sizeof local;
      getsockname(c, reinterpret_cast<sockaddr*>(&local), &len);
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
  sockaddr_in a{};
  if (!parseAddr(target, a)) return usage();
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
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
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 2;
  std::printf("listening\n");
  std::fflush(stdout);
  pollfd p{s, POLLIN, 0};
  if (poll(&p, 1, timeoutMs) <= 0) return 1;
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  char buf[512];
  if (recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len) < 0) return 1;
  std::printf("udp from %s\n", addrText(peer).c_str());
  return 0;
}

int udpSend(const std::string& target) {
  sockaddr_in a{};
  if (!parseAddr(target, a)) return usage();
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char msg[] = "ping";
  return sendto(s, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ? 1 : 0;
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
