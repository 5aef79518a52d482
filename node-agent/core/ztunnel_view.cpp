// ztunnel's view from the snapshot. Pure.
#include "node-agent/core/ztunnel_view.h"

#include <nlohmann/json.hpp>

#include "common/mesh/membership.h"

namespace ambient {
namespace {

using json = nlohmann::ordered_json;

std::pair<std::string, std::string> splitKey(const std::string& key) {
  auto slash = key.find('/');
  return {key.substr(0, slash), key.substr(slash + 1)};
}

std::string serviceHostname(const std::string& ns, const std::string& name,
                            const ZtunnelViewSettings& s) {
  return name + "." + ns + ".svc." + s.clusterDomain;
}

// The waypoint named by the object's label, else by its namespace's; null when none.
json waypointFor(const Labels& labels, const std::string& ns, const MetadataSnapshot& snap,
                 const ZtunnelViewSettings& s) {
  std::string name;
  if (auto it = labels.find(kUseWaypointLabel); it != labels.end()) {
    name = it->second;
  } else if (const NamespaceMeta* n = snap.ns(ns)) {
    if (auto nit = n->labels.find(kUseWaypointLabel); nit != n->labels.end()) name = nit->second;
  }
  if (name.empty() || name == "none") return nullptr;
  return json{{"destination", {{"namespace", ns}, {"hostname", serviceHostname(ns, name, s)}}},
              {"hboneMtlsPort", s.hboneMtlsPort}};
}

bool enrolled(const std::string& key, const PodMeta& pod, const std::set<std::string>& here,
              const std::string& nodeName) {
  if (pod.nodeName == nodeName) return here.count(key) > 0;
  auto it = pod.annotations.find(kRedirectionAnnotation);
  return it != pod.annotations.end() && it->second == kRedirectionEnabled;
}

json addressTexts(const std::vector<IpAddress>& ips) {
  json out = json::array();
  for (const auto& ip : ips) out.push_back(ip.str());
  return out;
}

json workload(const std::string& key, const PodMeta& pod, const MetadataSnapshot& snap,
              const std::set<std::string>& here, const std::string& nodeName,
              const ZtunnelViewSettings& s) {
  auto [ns, name] = splitKey(key);
  json w{{"uid", workloadUid(ns, name)},
         {"name", name},
         {"namespace", ns},
         {"serviceAccount", pod.serviceAccount},
         {"trustDomain", s.trustDomain},
         {"node", pod.nodeName},
         {"network", ""},
         {"workloadIps", addressTexts(pod.ips)},
         {"protocol", enrolled(key, pod, here, nodeName) ? "HBONE" : "TCP"},
         {"status", pod.running ? "Healthy" : "Unhealthy"},
         {"services", json::object()},
         {"labels", pod.labels}};
  if (json wp = waypointFor(pod.labels, ns, snap, s); !wp.is_null()) w["waypoint"] = wp;
  return w;
}

json service(const std::string& key, const ServiceMeta& svc, const MetadataSnapshot& snap,
             const ZtunnelViewSettings& s) {
  auto [ns, name] = splitKey(key);
  json vips = json::array();
  for (const auto& ip : svc.clusterIps) vips.push_back("/" + ip);
  json ports = json::object();
  for (const auto& p : svc.ports) {
    if (p.protocol != "TCP") continue;
    ports[std::to_string(p.port)] = p.targetPort;
  }
  json endpoints = json::object();
  for (const auto& [sliceKey, slice] : snap.endpointSlices) {
    if (slice.serviceNamespace != ns || slice.serviceName != name) continue;
    for (const auto& ep : slice.endpoints) {
      if (ep.podName.empty() || !snap.pod(ep.podNamespace, ep.podName)) continue;
      json portMap = json::object();
      for (const auto& p : svc.ports) {
        if (p.protocol != "TCP") continue;
        auto named = slice.ports.find(p.name);
        uint16_t target = named != slice.ports.end() ? named->second : p.targetPort;
        portMap[std::to_string(p.port)] = target;
      }
      std::string uid = workloadUid(ep.podNamespace, ep.podName);
      endpoints[uid] = json{
          {"workloadUid", uid}, {"port", portMap}, {"status", ep.ready ? "Healthy" : "Unhealthy"}};
    }
  }
  json out{{"name", name},
           {"namespace", ns},
           {"hostname", serviceHostname(ns, name, s)},
           {"vips", vips},
           {"ports", ports},
           {"endpoints", endpoints},
           {"subjectAltNames", json::array()}};
  if (json wp = waypointFor(svc.labels, ns, snap, s); !wp.is_null()) out["waypoint"] = wp;
  return out;
}

// The object as the API served it, trimmed to what ztunnel reads (metadata it scopes, orders and
// dry-runs by) plus resourceVersion, which names the version enforced in /config_dump.
json policyObject(const char* kind, const IstioPolicyMeta& p) {
  json meta{{"name", p.name}, {"namespace", p.namespace_}};
  if (!p.annotations.empty()) meta["annotations"] = p.annotations;
  if (!p.creationTimestamp.empty()) meta["creationTimestamp"] = p.creationTimestamp;
  if (!p.resourceVersion.empty()) meta["resourceVersion"] = p.resourceVersion;
  json out{{"apiVersion", p.apiVersion}, {"kind", kind}, {"metadata", meta}};
  if (!p.spec.is_null()) out["spec"] = p.spec;
  return out;
}

json policyList(const char* kind, const std::map<std::string, IstioPolicyMeta>& policies) {
  json out = json::array();
  for (const auto& [key, p] : policies) out.push_back(policyObject(kind, p));
  return out;
}

}  // namespace

std::string workloadUid(const std::string& podNamespace, const std::string& podName) {
  return "Kubernetes//Pod/" + podNamespace + "/" + podName;
}

std::string renderZtunnelView(const MetadataSnapshot& snapshot,
                              const std::set<std::string>& enrolledHere,
                              const std::string& nodeName, const ZtunnelViewSettings& settings) {
  json workloads = json::array();
  for (const auto& [key, pod] : snapshot.pods) {
    if (pod.ips.empty() || pod.hostNetwork) continue;
    workloads.push_back(workload(key, pod, snapshot, enrolledHere, nodeName, settings));
  }
  json services = json::array();
  for (const auto& [key, svc] : snapshot.services) {
    if (svc.clusterIps.empty()) continue;  // headless: clients dial pod IPs directly
    services.push_back(service(key, svc, snapshot, settings));
  }
  json view{
      {"workloads", workloads},
      {"services", services},
      {"policies", json::array()},
      {"rootNamespace", settings.rootNamespace},
      {"authorizationPolicies", policyList("AuthorizationPolicy", snapshot.authorizationPolicies)},
      {"peerAuthentications", policyList("PeerAuthentication", snapshot.peerAuthentications)}};
  return view.dump(2) + "\n";
}

}  // namespace ambient
