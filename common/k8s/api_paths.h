// REST paths and query strings of the resources we read. Pure.
#pragma once

#include <string>
#include <string_view>

namespace ambient::k8s {

struct ResourceType {
  std::string_view apiPrefix;  // "/api/v1" or "/apis/<group>/<version>"
  std::string_view plural;     // "pods"
  std::string_view kind;       // "Pod"
  bool namespaced = true;
};

inline constexpr ResourceType kNamespaces{"/api/v1", "namespaces", "Namespace", false};
inline constexpr ResourceType kPods{"/api/v1", "pods", "Pod", true};
inline constexpr ResourceType kServices{"/api/v1", "services", "Service", true};
inline constexpr ResourceType kEndpointSlices{"/apis/discovery.k8s.io/v1", "endpointslices",
                                              "EndpointSlice", true};
// Istio's policy CRDs (security.istio.io): v1 since Istio 1.22, v1beta1 before; the agent lists
// v1 and falls back to v1beta1 when v1 is not served (see crd_discovery.h).
inline constexpr ResourceType kAuthorizationPolicies{
    "/apis/security.istio.io/v1", "authorizationpolicies", "AuthorizationPolicy", true};
inline constexpr ResourceType kAuthorizationPoliciesV1beta1{
    "/apis/security.istio.io/v1beta1", "authorizationpolicies", "AuthorizationPolicy", true};
inline constexpr ResourceType kPeerAuthentications{
    "/apis/security.istio.io/v1", "peerauthentications", "PeerAuthentication", true};
inline constexpr ResourceType kPeerAuthenticationsV1beta1{
    "/apis/security.istio.io/v1beta1", "peerauthentications", "PeerAuthentication", true};

struct ListOptions {
  std::string namespace_;     // empty: all namespaces
  std::string labelSelector;  // "app=x,tier!=db"
  std::string fieldSelector;  // "spec.nodeName=node1"
};

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string urlEncode(std::string_view text);
// "/api/v1/namespaces/ns/pods" or "/api/v1/pods".
std::string renderCollectionPath(const ResourceType& type, std::string_view namespace_);
// "/api/v1/namespaces/ns/pods/name" or "/api/v1/namespaces/name".
std::string renderObjectPath(const ResourceType& type, std::string_view namespace_,
                             std::string_view name);
// "/api/v1/pods?fieldSelector=..." for a list.
std::string renderListTarget(const ResourceType& type, const ListOptions& options);
// The list target plus watch=1, resourceVersion, allowWatchBookmarks=true and timeoutSeconds.
std::string renderWatchTarget(const ResourceType& type, const ListOptions& options,
                              std::string_view resourceVersion, int timeoutSeconds);
// "pods (fieldSelector=spec.nodeName=n1)" for logs and errors.
std::string describeWatch(const ResourceType& type, const ListOptions& options);

}  // namespace ambient::k8s
