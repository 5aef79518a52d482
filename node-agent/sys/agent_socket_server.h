// The agent's end of the plugin protocol: a Unix stream socket (mode 0600 in a 0700
// directory) that accepts only root peers (SO_PEERCRED), reads one request line with a
// timeout, and answers one reply line. Touches sockets and files.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/core/agent_protocol.h"
#include "common/sys/unique_fd.h"

namespace ambient {

class AgentSocketServer {
 public:
  using Handler = std::function<PodReply(const PodRequest&)>;
  // Logged once per rejected or broken connection.
  using Complaint = std::function<void(const std::string&)>;

  static Result<std::unique_ptr<AgentSocketServer>> listen(const std::string& path, Handler handler,
                                                           Complaint complain,
                                                           int readTimeoutMs = 5000);
  // Accepts until `stop` is set (checked at least every 200 ms). Each connection is served on
  // its own short-lived thread; at most 64 at once, further connections wait in the listen
  // backlog (never refused or closed unread).
  void serve(const std::atomic<bool>& stop);

 private:
  AgentSocketServer(UniqueFd fd, Handler h, Complaint c, int timeoutMs)
      : fd_(std::move(fd)),
        handler_(std::move(h)),
        complain_(std::move(c)),
        timeoutMs_(timeoutMs) {}
  void serveOne(int conn);

  UniqueFd fd_;
  Handler handler_;
  Complaint complain_;
  int timeoutMs_;
  std::mutex mu_;
  std::condition_variable slotFree_;
  int inFlight_ = 0;  // guarded by mu_
};

}  // namespace ambient
