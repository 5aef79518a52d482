// Decides where a redirected connection goes: outbound (15001) service VIP balancing, HBONE vs
// plain TCP, waypoints; inbound HBONE CONNECT targets. Pure.
#pragma once

#include <cstdint>
#include <string>

#include "ztunnel/core/ip_addr.h"
#include "ztunnel/core/options.h"
#include "ztunnel/core/workload_view.h"

namespace zt {

enum class RouteKind {
  kPassthrough,  // destination unknown to the view: plain TCP to the original destination
  kDirect,       // known destination without HBONE: plain TCP to the chosen endpoint
  kHbone,        // HBONE to connectTo, CONNECT authority = `authority`
  kReject,       // refuse (no healthy endpoint, unknown source for HBONE, loop)
};

struct OutboundRoute {
  RouteKind kind = RouteKind::kReject;
  SocketAddr connectTo;          // TCP peer to dial
  SocketAddr authority;          // HBONE CONNECT target (ip:port)
  std::string sourceIdentity;    // our client certificate's identity (HBONE)
  std::string expectedIdentity;  // required peer identity (HBONE; empty: any in trust domain)
  const Workload* source = nullptr;
  const Workload* destination = nullptr;
  const Service* service = nullptr;
  bool viaWaypoint = false;
  std::string reason;  // why kReject
};

// `pick` is a caller-supplied random number used to choose among ready endpoints. A service VIP
// is balanced within its own family: only endpoints with an address of the VIP's family (IPv4 or
// IPv6) are candidates, and that address is used; none: kReject naming the family. A waypoint
// given by hostname prefers an endpoint address of the destination's family.
OutboundRoute computeOutboundRoute(const WorkloadView& view, const SocketAddr& source,
                                   const SocketAddr& originalDestination, uint64_t pick,
                                   uint16_t hbonePort);

// HBONE CONNECT request as received (pseudo-headers).
struct ConnectRequest {
  std::string method;
  std::string authority;
  std::string scheme;
  std::string path;
  std::string protocol;  // :protocol (extended CONNECT), must be empty
};

struct InboundDecision {
  int status = 0;  // 200 means: dial `target`
  SocketAddr target;
  const Workload* destination = nullptr;
  std::string reason;  // why not 200
};

// Validates a CONNECT arriving on the HBONE port: 400 malformed, 405 not CONNECT, 401 target
// not a workload this node serves over HBONE (or one of `listeners`: loops).
InboundDecision computeInboundTarget(const WorkloadView& view, const ConnectRequest& request,
                                     const std::string& localNode,
                                     const ListenerPorts& listeners = {});

}  // namespace zt
