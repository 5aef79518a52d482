// State shared by all worker threads (options, view, metrics, identities) and the per-worker
// context handed to connections.
#pragma once

#include <atomic>
#include <memory>
#include <random>

#include "ztunnel/core/denial_ring.h"
#include "ztunnel/core/metrics_registry.h"
#include "ztunnel/core/options.h"
#include "ztunnel/core/workload_view.h"
#include "ztunnel/sys/event_loop.h"
#include "ztunnel/sys/inbound_registry.h"
#include "ztunnel/sys/pipe_pool.h"

namespace zt {

class CertStore;
class TlsContexts;
class HbonePool;

struct ProxyState {
  Options opts;
  MetricsRegistry metrics;
  DenialRing denials;  // the last policy denials, GET /denials
  std::atomic<std::shared_ptr<const WorkloadView>> view;
  CertStore* certs = nullptr;
  TlsContexts* tls = nullptr;  // null when no identity source is configured
  std::atomic<bool> draining{false};
  std::atomic<bool> listenersUp{false};

  std::shared_ptr<const WorkloadView> snapshot() const { return view.load(); }
};

struct WorkerContext {
  WorkerContext(ProxyState& s, EventLoop& l) : state(s), loop(l) {}
  ProxyState& state;
  EventLoop& loop;
  PipePool pipes;
  std::mt19937_64 rng{std::random_device{}()};
  HbonePool* hbonePool = nullptr;
  int64_t localConnections = 0;  // owned by this worker, for drain
  InboundRegistry inbound;       // open inbound connections, re-checked after a policy update
};

// Counts a proxied connection in ztunnel_active_connections for its lifetime.
class ActiveConnection {
 public:
  explicit ActiveConnection(WorkerContext& ctx) : ctx_(ctx) {
    ++ctx_.state.metrics.activeConnections;
    ++ctx_.localConnections;
  }
  ~ActiveConnection() {
    --ctx_.state.metrics.activeConnections;
    --ctx_.localConnections;
  }
  ActiveConnection(const ActiveConnection&) = delete;
  ActiveConnection& operator=(const ActiveConnection&) = delete;

 private:
  WorkerContext& ctx_;
};

}  // namespace zt
