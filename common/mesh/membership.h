// Which pods are ambient, which pod is this node's ztunnel, from namespace and pod metadata.
// Pure.
#pragma once

#include <map>
#include <set>
#include <string>

#include "common/core/error.h"
#include "common/mesh/cluster_state.h"

namespace ambient {

inline constexpr const char* kDataplaneModeLabel = "istio.io/dataplane-mode";
inline constexpr const char* kDataplaneModeAmbient = "ambient";
inline constexpr const char* kSidecarStatusAnnotation = "sidecar.istio.io/status";
inline constexpr const char* kRedirectionAnnotation = "ambient.istio.io/redirection";
inline constexpr const char* kRedirectionDisabled = "disabled";
inline constexpr const char* kRedirectionEnabled = "enabled";

struct MembershipPolicy {
  std::set<std::string> excludedNamespaces = {"kube-system"};
  std::string ztunnelNamespace = "istio-system";
  std::string ztunnelLabelKey = "app";
  std::string ztunnelLabelValue = "ztunnel";
  std::string ztunnelServiceAccount = "ztunnel";
};

enum class PodRole { kAmbient, kNotAmbient, kZtunnel };

struct Membership {
  PodRole role = PodRole::kNotAmbient;
  std::string reason;  // why, for logs and `ambientctl`
};

Membership classifyPod(const std::string& podNamespace, const std::string& podName,
                       const MetadataSnapshot& meta, const MembershipPolicy& policy);

// The local metadata file (until the Kubernetes API watch):
// {"namespaces": {"<ns>": {"labels": {...}}},
//  "pods": {"<ns>/<name>": {"labels": {...}, "annotations": {...}, "serviceAccount": "sa",
//                           "uid": "...", "podIPs": ["10.1.2.3"], "hostNetwork": false}}}
// A pod with "podIPs" runs on this node (the file is the node's own source, as the API's
// pods with spec.nodeName = this node): the discovery pass may enroll it.
Result<MetadataSnapshot> parseMetadataFile(std::string_view text);

}  // namespace ambient
