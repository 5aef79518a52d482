// Worker threads. Touches the kernel through the loop and listeners.
#include "ztunnel/proxy/worker.h"

#include "ztunnel/hbone/hbone_pool.h"
#include "ztunnel/sys/inbound_recheck.h"

namespace zt {

Result<std::unique_ptr<Worker>> Worker::create(ProxyState& state) {
  auto loop = EventLoop::create();
  if (!loop) return fail(loop.error());
  std::unique_ptr<Worker> w(new Worker(state, std::move(*loop)));
  if (auto st = w->openListeners(); !st) return fail(st.error());
  return w;
}

Worker::Worker(ProxyState& state, std::unique_ptr<EventLoop> loop)
    : loop_(std::move(loop)), ctx_(new WorkerContext(state, *loop_)) {
  pool_ = std::make_unique<HbonePool>(*ctx_);
  ctx_->hbonePool = pool_.get();
}

Worker::~Worker() {
  stop();
  if (thread_.joinable()) thread_.join();
  listeners_.clear();
  pool_.reset();
}

Status Worker::openListeners() {
  for (const IpAddr& ip : ctx_->state.opts.bindAddresses)
    for (ListenerKind k :
         {ListenerKind::kOutbound, ListenerKind::kInboundPlain, ListenerKind::kInboundHbone}) {
      auto l = Listener::open(*ctx_, k, ip);
      if (!l) return fail(l.error());
      listeners_.push_back(std::move(*l));
    }
  return {};
}

void Worker::start() {
  thread_ = std::thread([this] { loop_->run(); });
}

void Worker::stopListening() {
  loop_->post([this] {
    for (auto& l : listeners_) l->close();
    pool_->drain();
  });
}

void Worker::recheckPolicies() {
  loop_->post([this] { recheckInboundConnections(*ctx_); });
}

void Worker::stop() {
  loop_->stop();
}

}  // namespace zt
