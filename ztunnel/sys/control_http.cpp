// Control-port HTTP server. Touches the kernel.
#include "ztunnel/sys/control_http.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "ztunnel/core/http_request.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {
namespace {

constexpr auto kRequestDeadline = std::chrono::seconds(5);

class HttpConnection : public EventHandler {
 public:
  HttpConnection(EventLoop& loop, UniqueFd fd, const HttpRoute& route)
      : loop_(loop), fd_(std::move(fd)), watch_{this, 0}, route_(route) {}
  void begin() {
    if (!loop_.add(fd_.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &watch_)) return finish();
    timer_ = loop_.addTimer(std::chrono::duration_cast<std::chrono::milliseconds>(kRequestDeadline),
                            [this] {
                              timer_ = 0;
                              finish();
                            });
  }
  void onEvents(int, uint32_t) override {
    if (closed_) return;
    if (out_.empty()) {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
        if (n > 0) {
          in_.append(buf, static_cast<size_t>(n));
          if (in_.size() > 16384) break;
          continue;
        }
        if (n == 0) return finish();
        if (errno == EAGAIN) break;
        return finish();
      }
      HttpRequestHead head = parseHttpRequestHead(in_);
      if (head.state == HttpRequestHead::State::kIncomplete) return;
      HttpReply reply = head.state == HttpRequestHead::State::kBad
                            ? HttpReply{400, "text/plain", "bad request\n"}
                            : route_(head.method, head.path);
      out_ = renderHttpResponse(reply.status, reply.contentType, reply.body);
    }
    while (sent_ < out_.size()) {
      ssize_t n = ::send(fd_.get(), out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
      if (n > 0)
        sent_ += static_cast<size_t>(n);
      else if (n < 0 && errno == EAGAIN)
        return;
      else
        return finish();
    }
    finish();
  }

 private:
  void finish() {
    if (closed_) return;
    closed_ = true;
    if (timer_) loop_.cancelTimer(timer_);
    loop_.remove(fd_.get());
    fd_.reset();
    loop_.retire(std::unique_ptr<EventHandler>(this));
  }
  EventLoop& loop_;
  UniqueFd fd_;
  Watch watch_;
  const HttpRoute& route_;
  std::string in_, out_;
  size_t sent_ = 0;
  bool closed_ = false;
  uint64_t timer_ = 0;
};

}  // namespace

Result<std::unique_ptr<ControlHttpListener>> ControlHttpListener::open(EventLoop& loop,
                                                                       const std::string& ip,
                                                                       uint16_t port,
                                                                       HttpRoute route) {
  auto addr = IpAddr::parse(ip);
  if (!addr) return fail(addr.error());
  auto fd = listenTcp(SocketAddr{*addr, port}, false, 128, false);
  if (!fd) return fail(fd.error());
  int raw = fd->get();
  std::unique_ptr<ControlHttpListener> l(
      new ControlHttpListener(loop, std::move(*fd), std::move(route)));
  if (auto st = loop.add(raw, EPOLLIN, &l->watch_); !st) return fail(st.error());
  return l;
}

ControlHttpListener::ControlHttpListener(EventLoop& loop, UniqueFd fd, HttpRoute route)
    : loop_(loop), fd_(std::move(fd)), watch_{this, 0}, route_(std::move(route)) {}

ControlHttpListener::~ControlHttpListener() {
  loop_.remove(fd_.get());
}

void ControlHttpListener::onEvents(int, uint32_t) {
  for (;;) {
    UniqueFd fd(accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) return;
    auto* c = new HttpConnection(loop_, std::move(fd), route_);
    c->begin();
  }
}

}  // namespace zt
