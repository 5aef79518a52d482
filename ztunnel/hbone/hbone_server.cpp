// 15008: accept HBONE (mTLS with the destination workload's identity), validate each CONNECT
// and dial the local workload from the original client IP. Touches the kernel and OpenSSL.
#include "ztunnel/hbone/hbone_server.h"

#include <unistd.h>

#include "common/log/log.h"
#include "ztunnel/hbone/hbone_connection.h"
#include "ztunnel/hbone/hbone_stream.h"
#include "ztunnel/sys/cert_store.h"
#include "ztunnel/sys/denial_log.h"
#include "ztunnel/sys/socket_ops.h"
#include "ztunnel/sys/tls_context.h"
#include "ztunnel/sys/traffic_labels.h"

namespace zt {

void acceptInboundHbone(WorkerContext& ctx, UniqueFd fd, const SocketAddr& peer,
                        const SocketAddr& dst) {
  const char* name = listenerFor(HboneConnection::Mode::kServer);
  if (!ctx.state.tls) {
    ctx.state.metrics.countRejected(name, "no_identity_source");
    closeWithReset(std::move(fd));
    return;
  }
  auto view = ctx.state.snapshot();
  // Present the identity of the workload the client dialled (its IP is our local address).
  const Workload* w = view->findWorkloadByIp(dst.ip);
  std::string identity =
      w && w->protocol == TunnelProtocol::kHbone ? w->identity() : ctx.state.opts.defaultIdentity;
  auto cert = ctx.state.certs->get(identity);
  if (!cert) {
    ambient::logLine(ambient::LogLevel::kWarn, "no certificate for inbound identity",
                     {{"error", cert.error().message()}});
    ctx.state.metrics.countRejected(name, "no_certificate");
    closeWithReset(std::move(fd));
    return;
  }
  auto ssl = ctx.state.tls->newServerSsl(**cert);
  if (!ssl) {
    ctx.state.metrics.countRejected(name, "tls_setup");
    closeWithReset(std::move(fd));
    return;
  }
  auto* conn = new HboneConnection(ctx, HboneConnection::Mode::kServer, std::move(fd),
                                   std::move(*ssl), peer, dst);
  if (!conn->start()) delete conn;  // frees the TLS state and closes the socket
}

void HboneConnection::onRequest(int32_t id) {
  ConnectRequest req = std::move(requests_[id]);
  requests_.erase(id);
  if (timer_) ctx_.loop.cancelTimer(timer_);  // the first CONNECT ends the handshake deadline
  timer_ = 0;
  const char* name = listenerFor(HboneConnection::Mode::kServer);
  auto view = ctx_.state.snapshot();
  InboundDecision d =
      computeInboundTarget(*view, req, ctx_.state.opts.node, ctx_.state.opts.listeners());
  if (d.status == 200) {
    // Authorization: the verified peer identity, the original client IP (the sending ztunnel
    // spoofs it), the target and the destination workload's policies.
    InboundAuthzVerdict authz = computeInboundAuthz(*view, d.destination, peerIdentity_, peer_.ip,
                                                    d.target.ip, d.target.port, false);
    if (!authz.auditHits.empty()) recordAudit(name, authz, peer_.toString(), d.target.toString());
    if (!authz.allowed) {
      recordDenial(ctx_.state, name, authz, peer_.toString(), d.target.toString());
      submitResponse(id, 401, false);
      return;
    }
  }
  if (d.status == 200 && (goingAway_ || ctx_.state.draining.load())) {
    d.status = 503;
    d.reason = "draining";
  }
  if (d.status == 200 &&
      ctx_.state.metrics.activeConnections.load() >= ctx_.state.opts.maxConnections) {
    d.status = 503;
    d.reason = "connection limit";
  }
  if (d.status != 200) {
    ambient::logLine(
        ambient::LogLevel::kDebug, "CONNECT refused",
        {{"peer", peer_.toString()}, {"status", std::to_string(d.status)}, {"reason", d.reason}});
    ctx_.state.metrics.countRejected(name, "connect_status_" + std::to_string(d.status));
    submitResponse(id, d.status, false);
    return;
  }
  auto up = connectFrom(d.target, originalSourceFor(ctx_.state.opts, peer_.ip, d.target.ip),
                        ctx_.state.opts.mark);
  if (!up) {
    ctx_.state.metrics.countRejected(name, "upstream_connect_failed");
    submitResponse(id, 503, false);
    return;
  }
  auto counters =
      ctx_.state.metrics.traffic(makeTrafficLabels("destination", view->findWorkloadByIp(peer_.ip),
                                                   d.destination, nullptr, true, peerIdentity_));
  auto* stream = new HboneStream(ctx_, std::move(*up), std::move(counters), false, true, name);
  stream->attach(this, id);
  stream->trackInbound({name, peerIdentity_, peer_, d.target, false});
  streams_[id] = stream;
  nghttp2_session_set_stream_user_data(session_.get(), id, stream);
  if (!stream->start()) stream->onConnectionLost();
}

}  // namespace zt
