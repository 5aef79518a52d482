// The ztunnel pod as tests register it with the agent: its entry in the agent's metadata file and
// the ADD that the kubelet's CNI call sends when ztunnel starts on the node. Pure.
#pragma once

#include <string>
#include <string_view>

#include "tests/support/pod_requests.h"

namespace ambient::testing {

inline constexpr const char* kZtunnelNamespace = "istio-system";
inline constexpr const char* kZtunnelPodName = "ztunnel-1";

// The member of the metadata file's "pods" object that makes istio-system/ztunnel-1 a ztunnel
// (label app=ztunnel, service account ztunnel).
inline constexpr const char* kZtunnelPodMetadata =
    R"("istio-system/ztunnel-1": {"labels": {"app": "ztunnel"}, "serviceAccount": "ztunnel"})";

// The ADD of ztunnel pod `istio-system/<name>` in `netns` with address `ip`. The agent takes the
// pod for ztunnel by its metadata (see kZtunnelPodMetadata), not by this request.
inline PodRequest ztunnelAdd(const std::string& netns, std::string_view ip,
                             const std::string& name = kZtunnelPodName) {
  return podAdd(kZtunnelNamespace, name, netns, ip);
}

}  // namespace ambient::testing
