// Builds metric labels from view lookups. Pure helpers used by the accept handlers.
#pragma once

#include "ztunnel/core/metrics_registry.h"
#include "ztunnel/core/workload_view.h"

namespace zt {

inline TrafficLabels makeTrafficLabels(const char* reporter, const Workload* src,
                                       const Workload* dst, const Service* svc, bool mtls,
                                       const std::string& peerIdentity = {}) {
  TrafficLabels l;
  l.reporter = reporter;
  if (src) {
    l.sourceWorkload = src->name;
    l.sourceNamespace = src->ns;
    l.sourcePrincipal = src->identity();
  }
  if (!peerIdentity.empty()) l.sourcePrincipal = peerIdentity;
  if (dst) {
    l.destinationWorkload = dst->name;
    l.destinationNamespace = dst->ns;
    l.destinationPrincipal = dst->identity();
  }
  if (svc) l.destinationService = svc->hostname;
  l.securityPolicy = mtls ? "mutual_tls" : "unknown";
  return l;
}

}  // namespace zt
