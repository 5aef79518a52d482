// Listener sockets and accept loop. Touches the kernel.
#include "ztunnel/proxy/listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/log/log.h"
#include "ztunnel/hbone/hbone_server.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

const char* listenerName(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::kOutbound:
      return "outbound";
    case ListenerKind::kInboundPlain:
      return "inbound_plaintext";
    case ListenerKind::kInboundHbone:
      return "inbound_hbone";
  }
  return "?";
}

Result<std::unique_ptr<Listener>> Listener::open(WorkerContext& ctx, ListenerKind kind,
                                                 const IpAddr& ip) {
  const Options& o = ctx.state.opts;
  uint16_t port = kind == ListenerKind::kOutbound       ? o.outboundPort
                  : kind == ListenerKind::kInboundPlain ? o.inboundPlainPort
                                                        : o.inboundPort;
  auto fd = listenTcp(SocketAddr{ip, port}, o.transparent, 4096, true);
  if (!fd) return fail(fd.error());
  int raw = fd->get();
  std::unique_ptr<Listener> l(new Listener(ctx, kind, std::move(*fd)));
  if (auto st = ctx.loop.add(raw, EPOLLIN, &l->watch_); !st) return fail(st.error());
  return l;
}

Listener::Listener(WorkerContext& ctx, ListenerKind kind, UniqueFd fd)
    : ctx_(ctx), kind_(kind), fd_(std::move(fd)), watch_{this, 0} {}

Listener::~Listener() {
  close();
}

void Listener::close() {
  if (!fd_.valid()) return;
  ctx_.loop.remove(fd_.get());
  fd_.reset();
}

void Listener::onEvents(int, uint32_t) {
  for (int i = 0; i < 64 && fd_.valid(); ++i) {
    UniqueFd fd(accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EMFILE || errno == ENFILE)
        ctx_.state.metrics.countRejected(listenerName(kind_), "fd_limit");
      return;
    }
    handle(std::move(fd));
  }
}

void Listener::handle(UniqueFd fd) {
  const char* name = listenerName(kind_);
  if (ctx_.state.draining.load()) {
    ctx_.state.metrics.countRejected(name, "draining");
    closeWithReset(std::move(fd));
    return;
  }
  if (ctx_.state.metrics.activeConnections.load() >= ctx_.state.opts.maxConnections) {
    ctx_.state.metrics.countRejected(name, "connection_limit");
    closeWithReset(std::move(fd));
    return;
  }
  auto peer = peerAddress(fd.get());
  auto dst = localAddress(fd.get());
  if (!peer || !dst) return;  // closed (no reset) as `fd` goes
  setNoDelay(fd.get());
  switch (kind_) {
    case ListenerKind::kOutbound:
      acceptOutbound(ctx_, std::move(fd), *peer, *dst);
      break;
    case ListenerKind::kInboundPlain:
      acceptInboundPlain(ctx_, std::move(fd), *peer, *dst);
      break;
    case ListenerKind::kInboundHbone:
      acceptInboundHbone(ctx_, std::move(fd), *peer, *dst);
      break;
  }
}

}  // namespace zt
