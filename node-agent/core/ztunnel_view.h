// ztunnel's view of the cluster, rendered from the agent's snapshot as the JSON local config
// that ztunnel reads (upstream's LocalConfig field names; see ztunnel/README.md): every pod with
// an IP as a workload (protocol HBONE when enrolled, else TCP), every service with a cluster IP
// with its endpoints from EndpointSlices, and waypoints from the `istio.io/use-waypoint` label of
// the pod, the service or their namespace. Each workload carries its pod's labels (ztunnel matches
// policy selectors against them); the view carries `rootNamespace` and every AuthorizationPolicy
// and PeerAuthentication as Kubernetes objects, which ztunnel decodes and enforces. Pure.
#pragma once

#include <set>
#include <string>

#include "common/mesh/cluster_state.h"

namespace ambient {

inline constexpr const char* kUseWaypointLabel = "istio.io/use-waypoint";

struct ZtunnelViewSettings {
  std::string trustDomain = "cluster.local";
  std::string clusterDomain = "cluster.local";  // services are <name>.<ns>.svc.<clusterDomain>
  uint16_t hboneMtlsPort = 15008;
  std::string rootNamespace = "istio-system";  // policies there apply mesh-wide
};

// `enrolledHere` holds "namespace/name" of the pods this node's agent enrolled (authoritative
// for local pods); other nodes' pods count as enrolled when they carry
// ambient.istio.io/redirection=enabled. Deterministic: equal input gives equal text.
std::string renderZtunnelView(const MetadataSnapshot& snapshot,
                              const std::set<std::string>& enrolledHere,
                              const std::string& nodeName, const ZtunnelViewSettings& settings);

// "Kubernetes//Pod/<namespace>/<name>", the workload uid used in the view.
std::string workloadUid(const std::string& podNamespace, const std::string& podName);

}  // namespace ambient
