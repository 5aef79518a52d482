// Typed views of the Kubernetes objects the agent reads (Namespace, Pod, Service,
// EndpointSlice, Istio's AuthorizationPolicy and PeerAuthentication), parsed defensively from the
// API's JSON. Pure.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace ambient::k8s {

using Labels = std::map<std::string, std::string>;

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped objects
  std::string uid;
  std::string resourceVersion;
  Labels labels;
  Labels annotations;
  std::optional<std::string> deletionTimestamp;  // set while the object is being deleted

  // "namespace/name", or "name" for cluster-scoped objects: the store key.
  std::string key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
};

struct Namespace {
  ObjectMeta meta;
};

struct Pod {
  ObjectMeta meta;
  std::string serviceAccountName;
  std::string nodeName;
  bool hostNetwork = false;
  std::string phase;                // status.phase: Pending, Running, Succeeded, Failed, Unknown
  std::vector<std::string> podIPs;  // status.podIPs[].ip, else status.podIP
};

struct ServicePort {
  std::string name;
  int port = 0;
  int targetPort = 0;          // numeric targetPort (defaults to port)
  std::string targetPortName;  // named targetPort ("http"), targetPort is then 0
  std::string protocol = "TCP";
};

struct Service {
  ObjectMeta meta;
  std::vector<std::string> clusterIPs;  // spec.clusterIPs, else spec.clusterIP; "None" dropped
  bool headless = false;                // clusterIP "None"
  std::vector<ServicePort> ports;
};

struct ObjectReference {
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;
};

struct Endpoint {
  std::vector<std::string> addresses;
  bool ready = true;  // conditions.ready; absent means ready (API reference: "unknown state ...
                      // should be interpreted as ready")
  std::string nodeName;
  std::optional<ObjectReference> targetRef;
};

struct EndpointPort {
  std::string name;
  std::optional<int> port;  // absent: "all ports"
  std::string protocol = "TCP";
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string serviceName;  // label kubernetes.io/service-name
  std::string addressType;  // IPv4, IPv6, FQDN
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;
};

// An Istio security.istio.io object the agent passes through to ztunnel without interpreting
// it: ztunnel decodes each spec and fails a bad one closed on its own, so any JSON value of
// `spec` is kept (the watcher's size limits bound it).
struct IstioPolicyObject {
  ObjectMeta meta;
  std::string apiVersion;         // as served ("security.istio.io/v1" or ".../v1beta1")
  std::string creationTimestamp;  // orders PeerAuthentications (oldest wins)
  nlohmann::json spec;            // null when absent
};
struct AuthorizationPolicy : IstioPolicyObject {};
struct PeerAuthentication : IstioPolicyObject {};

inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";

// Each returns an error (kProtocol) naming the kind, namespace/name and the bad field; unknown
// fields are ignored; a field of the wrong JSON type is an error.
Result<ObjectMeta> parseObjectMeta(const nlohmann::json& object, std::string_view kind);
Result<Namespace> parseNamespace(const nlohmann::json& object);
Result<Pod> parsePod(const nlohmann::json& object);
Result<Service> parseService(const nlohmann::json& object);
Result<EndpointSlice> parseEndpointSlice(const nlohmann::json& object);
// Only the metadata is checked (name required; a missing apiVersion reads as v1); the spec is
// kept as it is.
Result<AuthorizationPolicy> parseAuthorizationPolicy(const nlohmann::json& object);
Result<PeerAuthentication> parsePeerAuthentication(const nlohmann::json& object);

// Maps a type to its kind and parser, for templates (ObjectStore, Informer).
template <class T>
struct ObjectTraits;
template <>
struct ObjectTraits<Namespace> {
  static constexpr std::string_view kKind = "Namespace";
  static Result<Namespace> parse(const nlohmann::json& j) { return parseNamespace(j); }
};
template <>
struct ObjectTraits<Pod> {
  static constexpr std::string_view kKind = "Pod";
  static Result<Pod> parse(const nlohmann::json& j) { return parsePod(j); }
};
template <>
struct ObjectTraits<Service> {
  static constexpr std::string_view kKind = "Service";
  static Result<Service> parse(const nlohmann::json& j) { return parseService(j); }
};
template <>
struct ObjectTraits<EndpointSlice> {
  static constexpr std::string_view kKind = "EndpointSlice";
  static Result<EndpointSlice> parse(const nlohmann::json& j) { return parseEndpointSlice(j); }
};
template <>
struct ObjectTraits<AuthorizationPolicy> {
  static constexpr std::string_view kKind = "AuthorizationPolicy";
  static Result<AuthorizationPolicy> parse(const nlohmann::json& j) {
    return parseAuthorizationPolicy(j);
  }
};
template <>
struct ObjectTraits<PeerAuthentication> {
  static constexpr std::string_view kKind = "PeerAuthentication";
  static Result<PeerAuthentication> parse(const nlohmann::json& j) {
    return parsePeerAuthentication(j);
  }
};

}  // namespace ambient::k8s
