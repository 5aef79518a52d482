// API objects to the agent's snapshot. Pure.
#include "common/mesh/api_snapshot.h"

namespace ambient {

namespace {

PodMeta podMetaFrom(const k8s::Pod& p) {
  PodMeta m;
  m.labels = p.meta.labels;
  m.annotations = p.meta.annotations;
  m.serviceAccount = p.serviceAccountName.empty() ? "default" : p.serviceAccountName;
  m.uid = p.meta.uid;
  m.nodeName = p.nodeName;
  // The API server validates status.podIPs; text that is still not an address is left out
  // (nothing could redirect or look for it).
  for (const auto& text : p.podIPs) {
    if (auto ip = IpAddress::parse(text)) m.ips.push_back(*ip);
  }
  m.running = p.phase == "Running" && !p.meta.deletionTimestamp;
  m.hostNetwork = p.hostNetwork;
  return m;
}

IstioPolicyMeta policyMetaFrom(const k8s::IstioPolicyObject& p) {
  return IstioPolicyMeta{p.apiVersion,
                         p.meta.name,
                         p.meta.namespace_,
                         p.meta.annotations,
                         p.creationTimestamp,
                         p.meta.resourceVersion,
                         p.spec};
}

}  // namespace

MetadataSnapshot snapshotFromApi(const ApiObjects& objects, bool complete) {
  MetadataSnapshot s;
  s.complete = complete;
  for (const auto& n : objects.namespaces) s.namespaces[n.meta.name].labels = n.meta.labels;
  for (const auto& p : objects.pods) {
    if (p.phase == "Succeeded" || p.phase == "Failed") continue;
    s.pods[p.meta.key()] = podMetaFrom(p);
  }
  for (const auto& p : objects.nodePods) {
    if (p.phase == "Succeeded" || p.phase == "Failed") continue;
    s.nodePods[p.meta.key()] = podMetaFrom(p);
  }
  for (const auto& svc : objects.services) {
    ServiceMeta m;
    m.labels = svc.meta.labels;
    m.clusterIps = svc.clusterIPs;
    for (const auto& p : svc.ports) {
      m.ports.push_back(ServicePortMeta{p.name, static_cast<uint16_t>(p.port),
                                        static_cast<uint16_t>(p.targetPort), p.targetPortName,
                                        p.protocol});
    }
    s.services[svc.meta.key()] = std::move(m);
  }
  for (const auto& es : objects.endpointSlices) {
    if (es.serviceName.empty() || es.addressType == "FQDN") continue;
    EndpointSliceMeta m;
    m.serviceNamespace = es.meta.namespace_;
    m.serviceName = es.serviceName;
    for (const auto& port : es.ports) {
      if (port.port && port.protocol == "TCP")
        m.ports[port.name] = static_cast<uint16_t>(*port.port);
    }
    for (const auto& ep : es.endpoints) {
      EndpointMeta e;
      e.addresses = ep.addresses;
      e.ready = ep.ready;
      if (ep.targetRef && ep.targetRef->kind == "Pod") {
        e.podNamespace =
            ep.targetRef->namespace_.empty() ? es.meta.namespace_ : ep.targetRef->namespace_;
        e.podName = ep.targetRef->name;
      }
      m.endpoints.push_back(std::move(e));
    }
    s.endpointSlices[es.meta.key()] = std::move(m);
  }
  for (const auto& p : objects.authorizationPolicies) {
    s.authorizationPolicies[p.meta.key()] = policyMetaFrom(p);
  }
  for (const auto& p : objects.peerAuthentications) {
    s.peerAuthentications[p.meta.key()] = policyMetaFrom(p);
  }
  return s;
}

}  // namespace ambient
