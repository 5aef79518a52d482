// Outbound HBONE: find or dial a pooled mTLS connection for the route and open a CONNECT stream
// carrying the client socket. Touches the kernel and OpenSSL.
#include "ztunnel/hbone/hbone_client.h"

#include <unistd.h>

#include "common/log/log.h"
#include "ztunnel/hbone/hbone_connection.h"
#include "ztunnel/hbone/hbone_pool.h"
#include "ztunnel/hbone/hbone_stream.h"
#include "ztunnel/sys/cert_store.h"
#include "ztunnel/sys/socket_ops.h"
#include "ztunnel/sys/tls_context.h"

namespace zt {

namespace {

HboneConnection* dial(WorkerContext& ctx, const std::string& key, const OutboundRoute& route,
                      const std::optional<IpAddr>& source) {
  auto cert = ctx.state.certs->get(route.sourceIdentity);
  if (!cert) {
    ambient::logLine(ambient::LogLevel::kWarn, "no certificate for outbound identity",
                     {{"error", cert.error().message()}});
    ctx.state.metrics.countRejected("outbound", "no_certificate");
    return nullptr;
  }
  auto fd = connectFrom(route.connectTo, source, ctx.state.opts.mark);
  if (!fd) {
    ctx.state.metrics.countRejected("outbound", "hbone_connect_failed");
    return nullptr;
  }
  auto ssl = ctx.state.tls->newClientSsl(**cert);
  if (!ssl) {
    ctx.state.metrics.countRejected("outbound", "tls_setup");
    return nullptr;
  }
  auto* conn =
      new HboneConnection(ctx, HboneConnection::Mode::kClient, std::move(*fd), std::move(*ssl),
                          route.connectTo, SocketAddr{}, route.expectedIdentity);
  if (!conn->start()) {
    delete conn;  // frees the TLS state and closes the socket
    return nullptr;
  }
  ctx.hbonePool->add(key, conn);
  return conn;
}

}  // namespace

void startHboneOutbound(WorkerContext& ctx, UniqueFd clientFd, const SocketAddr& client,
                        const OutboundRoute& route, std::shared_ptr<TrafficCounters> counters) {
  if (!ctx.state.tls) {
    ctx.state.metrics.countRejected("outbound", "no_identity_source");
    closeWithReset(std::move(clientFd));
    return;
  }
  auto source = originalSourceFor(ctx.state.opts, client.ip, route.connectTo.ip);
  std::string key = route.connectTo.toString() + "|" + route.sourceIdentity + "|" +
                    route.expectedIdentity + "|" + (source ? source->toString() : "");
  HboneConnection* conn = ctx.hbonePool->find(key);
  if (!conn) conn = dial(ctx, key, route, source);
  if (!conn) {
    closeWithReset(std::move(clientFd));
    return;
  }
  auto* stream =
      new HboneStream(ctx, std::move(clientFd), std::move(counters), true, false, "outbound");
  if (!stream->start()) {
    stream->onConnectionLost();
    return;
  }
  conn->openStream(stream, route.authority);
}

}  // namespace zt
