// The discovery pass: ambient pods of this node that the agent never saw through CNI (running
// before the install, started through the agent-down fallback, created while the conflist
// lacked our entry, or whose ADD raced a restart), matched to the network namespace that holds
// their addresses. Pure: the namespace scan comes in as data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/mesh/cluster_state.h"
#include "common/mesh/membership.h"
#include "node-agent/core/pod_registry.h"

namespace ambient {

// A pod the metadata says is an ambient workload on this node, missing from the registry.
struct DiscoveryCandidate {
  std::string podNamespace;
  std::string name;
  std::string uid;  // "" when the source does not know it (metadata file)
  std::vector<IpAddress> ips;
  std::string key() const { return podNamespace + "/" + name; }
  bool operator==(const DiscoveryCandidate&) const = default;
};

// The pods to look for: running, with an IP, not hostNetwork, ambient by membership, and not in
// the registry (by uid when known, else by namespace/name). Sorted by namespace/name.
std::vector<DiscoveryCandidate> computeDiscoveryCandidates(const MetadataSnapshot& meta,
                                                           const PodRegistry& registry,
                                                           const MembershipPolicy& policy);

// One interface inside one network namespace of the node, as a scan found it.
struct NetnsInterface {
  std::string netns;   // a path that opens the namespace (/var/run/netns/x, /proc/<pid>/ns/net)
  uint64_t inode = 0;  // the namespace's identity (the nsfs inode)
  IfName ifname;
  std::vector<IpAddress> ips;  // global addresses of either family
};

// A candidate found in exactly one namespace, every address on one interface.
struct DiscoveredPod {
  DiscoveryCandidate pod;
  std::string netns;
  IfName ifname;
};

// A candidate that cannot be enrolled now, and why (shown in /readyz, verify and the log).
struct UndiscoveredPod {
  DiscoveryCandidate pod;
  std::string reason;
};

struct DiscoveryMatch {
  std::vector<DiscoveredPod> found;
  std::vector<UndiscoveredPod> missing;
};

inline constexpr const char* kNamespaceNotFound = "namespace not found";

// Matches candidates to the scan. A pod none of whose addresses is in any namespace is missing
// with kNamespaceNotFound; an address held by two namespaces, or addresses split over two
// namespaces or interfaces, leave the pod missing with a reason naming them (never a guess).
DiscoveryMatch matchDiscovered(const std::vector<DiscoveryCandidate>& candidates,
                               const std::vector<NetnsInterface>& scan);

}  // namespace ambient
