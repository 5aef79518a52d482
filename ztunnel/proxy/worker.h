// A worker thread: its own event loop, listeners (SO_REUSEPORT) and connections.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "ztunnel/proxy/listener.h"
#include "ztunnel/sys/proxy_state.h"

namespace zt {

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> create(ProxyState& state);
  ~Worker();
  void start();
  void stopListening();    // thread-safe: close listeners (drain)
  void stop();             // thread-safe: end the loop; join in the destructor
  void recheckPolicies();  // thread-safe: re-check open inbound connections on the loop thread
  int64_t connections() const { return ctx_->localConnections; }

 private:
  Worker(ProxyState& state, std::unique_ptr<EventLoop> loop);
  Status openListeners();

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<WorkerContext> ctx_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<HbonePool> pool_;
  std::thread thread_;
};

}  // namespace zt
