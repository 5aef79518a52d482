// Benchmark peers: epoll sink/echo/idle server and measuring clients. Touches the kernel.
#include "bench_peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/sys/unique_fd.h"

namespace ztbench {
namespace {

using ambient::UniqueFd;
using Clock = std::chrono::steady_clock;

void raiseFdLimit() {
  rlimit rl{1 << 20, 1 << 20};
  setrlimit(RLIMIT_NOFILE, &rl);
}

UniqueFd connectTo(const std::string& host, int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) return UniqueFd();
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool writeAll(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool readAll(int fd, char* p, size_t n) {
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool parseInt(const std::string& s, int min, int max, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < min || v > max)
    return false;
  *out = v;
  return true;
}

bool parseDouble(const std::string& s, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int runServer(const std::vector<std::string>& args) {
  int port = 5201;
  if (args.size() > 1 || (args.size() == 1 && !parseInt(args[0], 1, 65535, &port))) {
    std::fprintf(stderr, "usage: ztunnel_bench serve [PORT]\n");
    return 2;
  }
  raiseFdLimit();
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || listen(ls, 65535) < 0) {
    perror("bench server");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{EPOLLIN, {.fd = ls}};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct Conn {
    UniqueFd fd;
    char mode = 0;
    uint64_t bytes = 0;
  };
  std::map<int, Conn> conns;
  static char buf[1 << 18];
  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == ls) {
        for (int c; (c = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event cev{EPOLLIN, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c] = Conn{UniqueFd(c)};
        }
        continue;
      }
      Conn& c = conns[fd];
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r <= 0) {
        if (c.mode == 'T') {
          uint64_t total = c.bytes;
          writeAll(fd, reinterpret_cast<char*>(&total), sizeof(total));
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        conns.erase(fd);  // closes it
        continue;
      }
      size_t off = 0;
      if (!c.mode) {
        c.mode = buf[0];
        off = 1;
      }
      if (c.mode == 'T')
        c.bytes += static_cast<uint64_t>(r) - off;
      else if (c.mode == 'L' && static_cast<size_t>(r) > off)
        writeAll(fd, buf + off, static_cast<size_t>(r) - off);
    }
  }
}

int runClient(const std::vector<std::string>& args) {
  int port = 0;
  double amount = 0;
  if (args.size() < 4 || args[0].empty() || !parseInt(args[2], 1, 65535, &port) ||
      !parseDouble(args[3], &amount)) {
    std::fprintf(stderr, "usage: ztunnel_bench client MODE HOST PORT AMOUNT [...]\n");
    return 2;
  }
  raiseFdLimit();
  char mode = args[0][0];
  const std::string& host = args[1];
  if (mode == 'T') {
    UniqueFd conn = connectTo(host, port);
    int fd = conn.get();
    if (fd < 0 || !writeAll(fd, "T", 1)) return std::puts("error connect"), 1;
    static char buf[1 << 18];
    std::memset(buf, 'x', sizeof(buf));
    uint64_t sent = 0;
    auto start = Clock::now();
    auto end = start + std::chrono::duration<double>(amount);
    while (Clock::now() < end) {
      if (!writeAll(fd, buf, sizeof(buf))) return std::puts("error write"), 1;
      sent += sizeof(buf);
    }
    shutdown(fd, SHUT_WR);
    uint64_t got = 0;
    if (!readAll(fd, reinterpret_cast<char*>(&got), sizeof(got))) return std::puts("error ack"), 1;
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("gbps %.3f bytes %llu sent %llu\n", got * 8 / secs / 1e9,
                static_cast<unsigned long long>(got), static_cast<unsigned long long>(sent));
    return got == sent ? 0 : 1;
  }
  if (mode == 'L') {
    UniqueFd conn = connectTo(host, port);
    int fd = conn.get();
    if (fd < 0 || !writeAll(fd, "L", 1)) return std::puts("error connect"), 1;
    char msg[64];
    std::memset(msg, 'q', sizeof(msg));
    int iterations = static_cast<int>(amount);
    std::vector<double> us;
    us.reserve(static_cast<size_t>(iterations));
    for (int i = 0; i < iterations + 500; ++i) {
      auto t0 = Clock::now();
      if (!writeAll(fd, msg, sizeof(msg)) || !readAll(fd, msg, sizeof(msg)))
        return std::puts("error rr"), 1;
      if (i >= 500)
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    auto pct = [&](double p) { return us[static_cast<size_t>(p * (us.size() - 1))]; };
    std::printf("p50 %.1f p90 %.1f p99 %.1f\n", pct(0.5), pct(0.9), pct(0.99));
    return 0;
  }
  if (mode == 'I') {
    int count = static_cast<int>(amount);
    std::vector<UniqueFd> fds;
    for (int i = 0; i < count; ++i) {
      UniqueFd fd = connectTo(host, port);
      if (!fd.valid() || !writeAll(fd.get(), "I", 1)) break;
      fds.push_back(std::move(fd));
    }
    std::printf("held %zu\n", fds.size());
    std::fflush(stdout);
    double hold = args.size() > 4 ? std::stod(args[4]) : 5;
    usleep(static_cast<useconds_t>(hold * 1e6));  // the orchestrator measures meanwhile
    fds.clear();                                  // closes them
    return 0;
  }
  return 2;
}

}  // namespace ztbench
