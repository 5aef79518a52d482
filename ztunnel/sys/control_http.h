// Tiny HTTP/1.1 server for 15000 (admin), 15020 (metrics) and 15021 (readiness) on the control
// thread's loop: one request per connection, bounded size and time. Touches the kernel.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ztunnel/sys/event_loop.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

struct HttpReply {
  int status = 200;
  std::string contentType = "text/plain";
  std::string body;
};
using HttpRoute = std::function<HttpReply(const std::string& method, const std::string& path)>;

class ControlHttpListener : public EventHandler {
 public:
  static Result<std::unique_ptr<ControlHttpListener>> open(EventLoop& loop, const std::string& ip,
                                                           uint16_t port, HttpRoute route);
  ~ControlHttpListener() override;
  void onEvents(int tag, uint32_t events) override;

 private:
  ControlHttpListener(EventLoop& loop, UniqueFd fd, HttpRoute route);
  EventLoop& loop_;
  UniqueFd fd_;
  Watch watch_;
  HttpRoute route_;
};

}  // namespace zt
