// Typed views of Namespace, Pod, Service, EndpointSlice and Istio's policy objects parsed from
// API JSON. Pure.
#include "common/k8s/objects.h"

#include "common/k8s/json_reader.h"

namespace ambient::k8s {
namespace {

using nlohmann::json;
using VT = json::value_t;

constexpr long long kMaxPort = 65535;

tl::unexpected<Error> objectError(const json& object, std::string_view kind,
                                  const std::string& what) {
  return fail(ErrorCode::kProtocol, "parse " + describeObject(object, kind) + ": " + what);
}

ObjectMeta readMeta(JsonReader& r, const json& object) {
  ObjectMeta meta;
  const json* m = r.child(object, "metadata", VT::object, "");
  if (!m) {
    if (!r.failed()) r.fail("metadata", "missing");
    return meta;
  }
  meta.name = r.string(*m, "name", "metadata");
  meta.namespace_ = r.string(*m, "namespace", "metadata");
  meta.uid = r.string(*m, "uid", "metadata");
  meta.resourceVersion = r.string(*m, "resourceVersion", "metadata");
  meta.labels = r.stringMap(*m, "labels", "metadata");
  meta.annotations = r.stringMap(*m, "annotations", "metadata");
  if (const json* ts = r.child(*m, "deletionTimestamp", VT::string, "metadata")) {
    meta.deletionTimestamp = ts->get<std::string>();
  }
  if (meta.name.empty() && !r.failed()) r.fail("metadata.name", "missing");
  return meta;
}

template <class T>
Result<T> finish(const JsonReader& r, const json& object, std::string_view kind, T value) {
  if (r.failed()) return objectError(object, kind, r.error());
  return value;
}

ServicePort readServicePort(JsonReader& r, const json& p, const std::string& path) {
  ServicePort port;
  port.name = r.string(p, "name", path);
  port.port = static_cast<int>(r.integer(p, "port", path, 1, kMaxPort).value_or(0));
  if (port.port == 0 && !r.failed()) r.fail(path + ".port", "missing");
  std::string protocol = r.string(p, "protocol", path);
  if (!protocol.empty()) port.protocol = protocol;
  auto it = p.find("targetPort");
  if (it == p.end() || it->is_null()) {
    port.targetPort = port.port;
  } else if (it->is_string()) {
    port.targetPortName = it->get<std::string>();
  } else {
    port.targetPort = static_cast<int>(r.integer(p, "targetPort", path, 0, kMaxPort).value_or(0));
  }
  return port;
}

Endpoint readEndpoint(JsonReader& r, const json& e, const std::string& path) {
  Endpoint endpoint;
  endpoint.addresses = r.stringList(e, "addresses", path);
  if (const json* c = r.child(e, "conditions", VT::object, path)) {
    endpoint.ready = r.boolean(*c, "ready", path + ".conditions", true);
  }
  endpoint.nodeName = r.string(e, "nodeName", path);
  if (const json* t = r.child(e, "targetRef", VT::object, path)) {
    std::string tp = path + ".targetRef";
    endpoint.targetRef = ObjectReference{r.string(*t, "kind", tp), r.string(*t, "namespace", tp),
                                         r.string(*t, "name", tp), r.string(*t, "uid", tp)};
  }
  return endpoint;
}

template <class T>
Result<T> parseIstioPolicy(const json& object, std::string_view kind) {
  if (!object.is_object()) return objectError(object, kind, "not a JSON object");
  JsonReader r;
  T policy;
  policy.meta = readMeta(r, object);
  if (policy.meta.namespace_.empty() && !r.failed()) r.fail("metadata.namespace", "missing");
  if (const json* m = r.child(object, "metadata", VT::object, "")) {
    policy.creationTimestamp = r.string(*m, "creationTimestamp", "metadata");
  }
  policy.apiVersion = r.string(object, "apiVersion", "");
  // Items of a list carry no apiVersion on some servers; the agent lists v1 first.
  if (policy.apiVersion.empty()) policy.apiVersion = "security.istio.io/v1";
  if (auto it = object.find("spec"); it != object.end()) policy.spec = *it;
  return finish(r, object, kind, std::move(policy));
}

}  // namespace

Result<ObjectMeta> parseObjectMeta(const json& object, std::string_view kind) {
  if (!object.is_object()) return objectError(object, kind, "not a JSON object");
  JsonReader r;
  ObjectMeta meta = readMeta(r, object);
  return finish(r, object, kind, std::move(meta));
}

Result<Namespace> parseNamespace(const json& object) {
  if (!object.is_object()) return objectError(object, "Namespace", "not a JSON object");
  JsonReader r;
  Namespace ns{readMeta(r, object)};
  return finish(r, object, "Namespace", std::move(ns));
}

Result<Pod> parsePod(const json& object) {
  if (!object.is_object()) return objectError(object, "Pod", "not a JSON object");
  JsonReader r;
  Pod pod{readMeta(r, object)};
  if (const json* spec = r.child(object, "spec", VT::object, "")) {
    pod.serviceAccountName = r.string(*spec, "serviceAccountName", "spec");
    pod.nodeName = r.string(*spec, "nodeName", "spec");
    pod.hostNetwork = r.boolean(*spec, "hostNetwork", "spec", false);
  }
  if (const json* status = r.child(object, "status", VT::object, "")) {
    pod.phase = r.string(*status, "phase", "status");
    if (const json* ips = r.child(*status, "podIPs", VT::array, "status")) {
      for (size_t i = 0; i < ips->size(); ++i) {
        std::string path = "status.podIPs[" + std::to_string(i) + "]";
        if (!(*ips)[i].is_object()) {
          r.fail(path, "expected object");
          continue;
        }
        std::string ip = r.string((*ips)[i], "ip", path);
        if (!ip.empty()) pod.podIPs.push_back(std::move(ip));
      }
    }
    std::string podIP = r.string(*status, "podIP", "status");
    if (pod.podIPs.empty() && !podIP.empty()) pod.podIPs.push_back(podIP);
  }
  return finish(r, object, "Pod", std::move(pod));
}

Result<Service> parseService(const json& object) {
  if (!object.is_object()) return objectError(object, "Service", "not a JSON object");
  JsonReader r;
  Service svc{readMeta(r, object)};
  if (const json* spec = r.child(object, "spec", VT::object, "")) {
    std::vector<std::string> ips = r.stringList(*spec, "clusterIPs", "spec");
    if (ips.empty()) {
      std::string ip = r.string(*spec, "clusterIP", "spec");
      if (!ip.empty()) ips.push_back(ip);
    }
    for (auto& ip : ips) {
      if (ip == "None") {
        svc.headless = true;
      } else if (!ip.empty()) {
        svc.clusterIPs.push_back(std::move(ip));
      }
    }
    if (const json* ports = r.child(*spec, "ports", VT::array, "spec")) {
      for (size_t i = 0; i < ports->size(); ++i) {
        std::string path = "spec.ports[" + std::to_string(i) + "]";
        if (!(*ports)[i].is_object()) {
          r.fail(path, "expected object");
          continue;
        }
        svc.ports.push_back(readServicePort(r, (*ports)[i], path));
      }
    }
  }
  return finish(r, object, "Service", std::move(svc));
}

Result<EndpointSlice> parseEndpointSlice(const json& object) {
  if (!object.is_object()) return objectError(object, "EndpointSlice", "not a JSON object");
  JsonReader r;
  EndpointSlice slice{readMeta(r, object)};
  if (auto it = slice.meta.labels.find(std::string(kServiceNameLabel));
      it != slice.meta.labels.end()) {
    slice.serviceName = it->second;
  }
  slice.addressType = r.string(object, "addressType", "");
  if (const json* eps = r.child(object, "endpoints", VT::array, "")) {
    for (size_t i = 0; i < eps->size(); ++i) {
      std::string path = "endpoints[" + std::to_string(i) + "]";
      if (!(*eps)[i].is_object()) {
        r.fail(path, "expected object");
        continue;
      }
      slice.endpoints.push_back(readEndpoint(r, (*eps)[i], path));
    }
  }
  if (const json* ports = r.child(object, "ports", VT::array, "")) {
    for (size_t i = 0; i < ports->size(); ++i) {
      std::string path = "ports[" + std::to_string(i) + "]";
      const json& p = (*ports)[i];
      if (!p.is_object()) {
        r.fail(path, "expected object");
        continue;
      }
      EndpointPort port;
      port.name = r.string(p, "name", path);
      if (auto n = r.integer(p, "port", path, 1, kMaxPort)) port.port = static_cast<int>(*n);
      std::string protocol = r.string(p, "protocol", path);
      if (!protocol.empty()) port.protocol = protocol;
      slice.ports.push_back(std::move(port));
    }
  }
  return finish(r, object, "EndpointSlice", std::move(slice));
}

Result<AuthorizationPolicy> parseAuthorizationPolicy(const json& object) {
  return parseIstioPolicy<AuthorizationPolicy>(object, "AuthorizationPolicy");
}

Result<PeerAuthentication> parsePeerAuthentication(const json& object) {
  return parseIstioPolicy<PeerAuthentication>(object, "PeerAuthentication");
}

}  // namespace ambient::k8s
