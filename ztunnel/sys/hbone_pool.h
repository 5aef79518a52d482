// Per-worker pool of outbound HBONE connections keyed by (peer address, source identity,
// destination identity, source IP). Touches the kernel.
#pragma once

#include "ztunnel/sys/proxy_state.h"

namespace zt {

class HbonePool {
 public:
  explicit HbonePool(WorkerContext& ctx) : ctx_(ctx) {}
  void drain() {}

 private:
  [[maybe_unused]] WorkerContext& ctx_;
};

}  // namespace zt
