// Outbound route selection and inbound CONNECT validation. Pure.
#include "ztunnel/core/route_plan.h"

#include <vector>

namespace zt {
namespace {

uint16_t mapPort(const PortMap& ports, uint16_t port) {
  auto it = ports.find(port);
  if (it == ports.end() || it->second == 0) return port;
  return it->second;
}

const char* familyName(bool v6) {
  return v6 ? "IPv6" : "IPv4";
}

// The workload's address of one family (the first, when the config lists several), if any.
const IpAddr* addressOfFamily(const Workload& w, bool v6) {
  for (const IpAddr& ip : w.workloadIps)
    if (ip.v6 == v6) return &ip;
  return nullptr;
}

// A waypoint given by hostname: one of its service's ready endpoints, preferring those with an
// address of the destination's family (so the HBONE leg can keep the client's source address);
// any ready one otherwise.
const Workload* resolveGatewayWorkload(const WorkloadView& view, const GatewayAddress& g,
                                       uint64_t pick, bool v6, IpAddr* ip) {
  if (g.address) {
    *ip = *g.address;
    return view.findWorkloadByIp(*g.address);
  }
  const Service* svc = view.findServiceByHostname(g.hostnameNamespace, g.hostname);
  if (!svc) return nullptr;
  std::vector<const Workload*> ready;
  std::vector<const Workload*> sameFamily;
  for (const auto& [uid, ep] : svc->endpoints) {
    const Workload* w = view.findWorkloadByUid(ep.workloadUid);
    if (!w || ep.status != HealthStatus::kHealthy || w->workloadIps.empty()) continue;
    ready.push_back(w);
    if (addressOfFamily(*w, v6)) sameFamily.push_back(w);
  }
  const auto& from = sameFamily.empty() ? ready : sameFamily;
  if (from.empty()) return nullptr;
  const Workload* w = from[pick % from.size()];
  const IpAddr* addr = addressOfFamily(*w, v6);
  *ip = addr ? *addr : w->workloadIps.front();
  return w;
}

}  // namespace

OutboundRoute computeOutboundRoute(const WorkloadView& view, const SocketAddr& source,
                                   const SocketAddr& dst, uint64_t pick, uint16_t hbonePort) {
  OutboundRoute r;
  r.source = view.findWorkloadByIp(source.ip);
  r.authority = dst;
  const Workload* target = nullptr;
  SocketAddr targetAddr = dst;
  const GatewayAddress* waypoint = nullptr;

  if (const Service* svc = view.findServiceByVip(dst.ip)) {
    r.service = svc;
    if (svc->waypoint) waypoint = &*svc->waypoint;
    // Balanced within the family the client dialled: an endpoint without an address of that
    // family is no candidate (the client's source could not be kept across families).
    struct Candidate {
      const Workload* workload;
      const Endpoint* endpoint;
      const IpAddr* address;
    };
    std::vector<Candidate> ready;
    size_t otherFamilyOnly = 0;
    for (const auto& [uid, ep] : svc->endpoints) {
      const Workload* w = view.findWorkloadByUid(ep.workloadUid);
      if (!w || w->workloadIps.empty()) continue;
      if (ep.status != HealthStatus::kHealthy || w->status != HealthStatus::kHealthy) continue;
      if (const IpAddr* addr = addressOfFamily(*w, dst.ip.v6))
        ready.push_back({w, &ep, addr});
      else
        ++otherFamilyOnly;
    }
    if (ready.empty() && !waypoint) {
      r.reason = "service " + svc->ns + "/" + svc->hostname + " has no ready endpoint";
      if (otherFamilyOnly > 0)
        r.reason += " with an " + std::string(familyName(dst.ip.v6)) + " address (" +
                    std::to_string(otherFamilyOnly) + " ready endpoint(s) have only " +
                    familyName(!dst.ip.v6) + ")";
      return r;
    }
    if (!ready.empty()) {
      const Candidate& c = ready[pick % ready.size()];
      target = c.workload;
      const Endpoint* ep = c.endpoint;
      uint16_t port =
          ep->port.empty() ? mapPort(svc->ports, dst.port) : mapPort(ep->port, dst.port);
      if (ep->port.empty() && !svc->ports.count(dst.port)) port = dst.port;
      targetAddr = SocketAddr{*c.address, port};
    }
  } else {
    target = view.findWorkloadByIp(dst.ip);
    if (target && target->waypoint) waypoint = &*target->waypoint;
  }
  r.destination = target;

  if (waypoint) {
    IpAddr wpIp;
    const Workload* wp = resolveGatewayWorkload(view, *waypoint, pick, dst.ip.v6, &wpIp);
    if (wpIp.isUnspecified() && !waypoint->address) {
      r.reason = "waypoint " + waypoint->hostname + " has no ready endpoint";
      return r;
    }
    r.kind = RouteKind::kHbone;
    r.viaWaypoint = true;
    r.connectTo = SocketAddr{wpIp, waypoint->hboneMtlsPort};
    r.authority = dst;  // the waypoint sees the original (service or workload) destination
    r.expectedIdentity = wp ? wp->identity() : "";
  } else if (target && target->protocol == TunnelProtocol::kHbone) {
    r.kind = RouteKind::kHbone;
    r.connectTo = SocketAddr{targetAddr.ip, hbonePort};
    r.authority = targetAddr;
    r.expectedIdentity = target->identity();
  } else {
    r.kind = target ? RouteKind::kDirect : RouteKind::kPassthrough;
    r.connectTo = targetAddr;
    return r;
  }
  if (!r.source) {
    r.kind = RouteKind::kReject;
    r.reason = "source " + source.ip.toString() + " is not a known workload: no identity for HBONE";
    return r;
  }
  r.sourceIdentity = r.source->identity();
  return r;
}

InboundDecision computeInboundTarget(const WorkloadView& view, const ConnectRequest& req,
                                     const std::string& localNode, const ListenerPorts& listeners) {
  InboundDecision d;
  if (req.method != "CONNECT") {
    d.status = 405;
    d.reason = "method '" + req.method + "' is not CONNECT";
    return d;
  }
  if (!req.protocol.empty()) {
    d.status = 400;
    d.reason = "extended CONNECT (:protocol) is not supported";
    return d;
  }
  auto target = SocketAddr::parse(req.authority);
  if (!target || target->port == 0) {
    d.status = 400;
    d.reason = "CONNECT authority '" + req.authority + "' is not ip:port";
    return d;
  }
  d.target = *target;
  const Workload* w = view.findWorkloadByIp(target->ip);
  if (!w) {
    d.status = 401;
    d.reason = "CONNECT target " + req.authority + " is not a known workload";
    return d;
  }
  if (!localNode.empty() && w->node != localNode) {
    d.status = 401;
    d.reason = "CONNECT target " + req.authority + " runs on node '" + w->node + "', not here";
    return d;
  }
  if (w->protocol != TunnelProtocol::kHbone) {
    d.status = 401;
    d.reason = "CONNECT target " + req.authority + " is not enrolled (protocol TCP)";
    return d;
  }
  if (listeners.contains(target->port)) {
    d.status = 401;
    d.reason = "CONNECT target port " + std::to_string(target->port) + " is a proxy port (loop)";
    return d;
  }
  d.destination = w;
  d.status = 200;
  return d;
}

}  // namespace zt
