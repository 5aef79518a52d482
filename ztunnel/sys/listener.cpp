// Listener sockets and accept loop. Touches the kernel.
#include "ztunnel/sys/listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "ztunnel/sys/log.h"
#include "ztunnel/sys/socket_ops.h"

namespace zt {

const char* listenerName(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::kOutbound: return "outbound";
    case ListenerKind::kInboundPlain: return "inbound_plaintext";
    case ListenerKind::kInboundHbone: return "inbound_hbone";
  }
  return "?";
}

Result<std::unique_ptr<Listener>> Listener::open(WorkerContext& ctx, ListenerKind kind, const IpAddr& ip) {
  const Options& o = ctx.state.opts;
  uint16_t port = kind == ListenerKind::kOutbound       ? o.outboundPort
                  : kind == ListenerKind::kInboundPlain ? o.inboundPlainPort
                                                        : o.inboundPort;
  auto fd = listenTcp(SocketAddr{ip, port}, o.transparent, 4096, true);
  if (!fd) return fail(fd.error());
  std::unique_ptr<Listener> l(new Listener(ctx, kind, *fd));
  if (auto st = ctx.loop.add(*fd, EPOLLIN, &l->watch_); !st) return fail(st.error());
  return l;
}

Listener::Listener(WorkerContext& ctx, ListenerKind kind, int fd)
    : ctx_(ctx), kind_(kind), fd_(fd), watch_{this, 0} {}

Listener::~Listener() { close(); }

void Listener::close() {
  if (fd_ < 0) return;
  ctx_.loop.remove(fd_);
  ::close(fd_);
  fd_ = -1;
}

void Listener::onEvents(int, uint32_t) {
  for (int i = 0; i < 64 && fd_ >= 0; ++i) {
    int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        ctx_.state.metrics.countRejected(listenerName(kind_), "fd_limit");
      return;
    }
    handle(fd);
  }
}

void Listener::handle(int fd) {
  const char* name = listenerName(kind_);
  if (ctx_.state.draining.load()) {
    ctx_.state.metrics.countRejected(name, "draining");
    closeWithReset(fd);
    return;
  }
  if (ctx_.state.metrics.activeConnections.load() >= ctx_.state.opts.maxConnections) {
    ctx_.state.metrics.countRejected(name, "connection_limit");
    closeWithReset(fd);
    return;
  }
  auto peer = peerAddress(fd);
  auto dst = localAddress(fd);
  if (!peer || !dst) {
    ::close(fd);
    return;
  }
  setNoDelay(fd);
  switch (kind_) {
    case ListenerKind::kOutbound: acceptOutbound(ctx_, fd, *peer, *dst); break;
    case ListenerKind::kInboundPlain: acceptInboundPlain(ctx_, fd, *peer, *dst); break;
    case ListenerKind::kInboundHbone: acceptInboundHbone(ctx_, fd, *peer, *dst); break;
  }
}

}  // namespace zt
