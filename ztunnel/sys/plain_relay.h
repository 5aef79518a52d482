// A plain TCP connection pair relayed with splice(2) through borrowed pipes (zero copy), with an
// optional pending upstream connect. Touches the kernel.
#pragma once

#include <cstdint>
#include <memory>

#include "ztunnel/core/metrics_registry.h"
#include "ztunnel/sys/event_loop.h"
#include "ztunnel/sys/proxy_state.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

class PlainRelay : public EventHandler, public PolicyClosable {
 public:
  // `upstream` may still be connecting (non-blocking connect in progress). `inbound`: register
  // the pair for re-checks after a policy update.
  static void start(WorkerContext& ctx, UniqueFd downstream, UniqueFd upstream,
                    std::shared_ptr<TrafficCounters> counters, const char* listener,
                    const InboundFacts* inbound = nullptr);
  ~PlainRelay() override;
  void onEvents(int tag, uint32_t events) override;
  void closeDeniedByPolicy() override { finish(true); }  // resets both sockets

 private:
  struct Direction {
    Pipe pipe;
    uint32_t inPipe = 0;
    bool eof = false;
    bool shut = false;
    bool peerHup = false;  // the source reported RDHUP/HUP/ERR
    bool bulk = false;     // recent reads were large: splice without trying the copy path
  };
  PlainRelay(WorkerContext& ctx, UniqueFd down, UniqueFd up,
             std::shared_ptr<TrafficCounters> counters, const char* listener);
  bool pump(int src, int dst, Direction& d, std::atomic<uint64_t>& counter);
  void finish(bool reset);

  WorkerContext& ctx_;
  ActiveConnection active_;
  UniqueFd down_;
  UniqueFd up_;
  Watch downWatch_;
  Watch upWatch_;
  bool connecting_ = true;
  bool closed_ = false;
  bool tracked_ = false;  // in ctx_.inbound
  uint64_t timer_ = 0;
  const char* listener_;
  Direction toUp_;
  Direction toDown_;
  std::shared_ptr<TrafficCounters> counters_;
};

}  // namespace zt
