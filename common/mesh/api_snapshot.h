// The agent's cluster snapshot built from the Kubernetes API objects its informers hold.
// Pure.
#pragma once

#include <vector>

#include "common/k8s/objects.h"
#include "common/mesh/cluster_state.h"

namespace ambient {

struct ApiObjects {
  std::vector<k8s::Namespace> namespaces;
  std::vector<k8s::Pod> pods;
  std::vector<k8s::Service> services;
  std::vector<k8s::EndpointSlice> endpointSlices;
  // This node's pods, from the watch with fieldSelector spec.nodeName=<node>.
  std::vector<k8s::Pod> nodePods;
  // Empty when the security.istio.io CRDs are not watched.
  std::vector<k8s::AuthorizationPolicy> authorizationPolicies;
  std::vector<k8s::PeerAuthentication> peerAuthentications;
};

// `complete` marks the pod list as the API's full list (all informers synced): only then may a
// registered pod missing from it be treated as deleted. Finished pods (Succeeded, Failed) are
// left out: their IPs may already belong to someone else.
MetadataSnapshot snapshotFromApi(const ApiObjects& objects, bool complete);

}  // namespace ambient
