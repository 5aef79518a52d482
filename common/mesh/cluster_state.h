// What the agent knows about the cluster at one moment: namespaces, pods, services and their
// endpoints, Istio's policy objects, from the Kubernetes API watch or the local metadata file.
// Immutable once built and shared by pointer, so a CNI ADD reads it without copying. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/core/ip_address.h"

namespace ambient {

using Labels = std::map<std::string, std::string>;

struct NamespaceMeta {
  Labels labels;
};

struct PodMeta {
  Labels labels;
  Labels annotations;
  std::string serviceAccount = "default";
  std::string uid;             // "" when the source does not know it (metadata file)
  std::string nodeName;        // spec.nodeName
  std::vector<IpAddress> ips;  // status.podIPs, decoded where the snapshot is built
  bool running = true;         // phase Running and not being deleted
  bool hostNetwork = false;    // shares the node's address: not a workload of its own
};

struct ServicePortMeta {
  std::string name;
  uint16_t port = 0;
  uint16_t targetPort = 0;     // 0 when named or unset
  std::string targetPortName;  // a named target port, resolved through the endpoints
  std::string protocol = "TCP";
};

struct ServiceMeta {
  Labels labels;
  std::vector<std::string> clusterIps;  // without "None"
  std::vector<ServicePortMeta> ports;
};

struct EndpointMeta {
  std::string podNamespace;  // targetRef, "" when the endpoint is not a pod
  std::string podName;
  std::vector<std::string> addresses;
  bool ready = true;
};

struct EndpointSliceMeta {
  std::string serviceNamespace;
  std::string serviceName;                // label kubernetes.io/service-name
  std::map<std::string, uint16_t> ports;  // port name -> port
  std::vector<EndpointMeta> endpoints;
};

// An AuthorizationPolicy or PeerAuthentication, carried to ztunnel as the API served it (ztunnel
// decodes the spec; the agent does not interpret it).
struct IstioPolicyMeta {
  std::string apiVersion;  // "security.istio.io/v1" or ".../v1beta1"
  std::string name;
  std::string namespace_;
  Labels annotations;  // istio.io/dry-run is one ztunnel reads
  std::string creationTimestamp;
  std::string resourceVersion;
  nlohmann::json spec;  // null when the object has none
};

struct MetadataSnapshot {
  std::map<std::string, NamespaceMeta> namespaces;
  std::map<std::string, PodMeta> pods;                      // by "namespace/name"
  std::map<std::string, ServiceMeta> services;              // by "namespace/name"
  std::map<std::string, EndpointSliceMeta> endpointSlices;  // by "namespace/name" of the slice
  // This node's pods, by "namespace/name": with the API, the watch of pods whose spec.nodeName
  // is this node; with the metadata file, its pods that have "podIPs". The discovery pass
  // enrolls the ambient ones the agent never saw through CNI.
  std::map<std::string, PodMeta> nodePods;
  // Every AuthorizationPolicy and PeerAuthentication in the cluster, by "namespace/name"; empty
  // when the security.istio.io CRDs are not watched.
  std::map<std::string, IstioPolicyMeta> authorizationPolicies;
  std::map<std::string, IstioPolicyMeta> peerAuthentications;
  // True when `pods` is the API's full list: a registered pod missing from it was deleted.
  bool complete = false;
  // False while an authoritative source (the API) has not delivered its first lists: nothing can
  // be decided from this snapshot, and new pods are refused (fail closed) with `notReadyReason`.
  bool ready = true;
  std::string notReadyReason;

  const NamespaceMeta* ns(const std::string& name) const;
  const PodMeta* pod(const std::string& ns, const std::string& name) const;
};

using SnapshotPtr = std::shared_ptr<const MetadataSnapshot>;

}  // namespace ambient
