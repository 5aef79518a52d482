// Ambient membership and ztunnel identification. Pure.
#include "common/mesh/membership.h"

#include <nlohmann/json.hpp>

namespace ambient {

Membership classifyPod(const std::string& podNamespace, const std::string& podName,
                       const MetadataSnapshot& meta, const MembershipPolicy& policy) {
  const PodMeta* pod = meta.pod(podNamespace, podName);
  static const PodMeta kNoPodMeta;
  const PodMeta& p = pod ? *pod : kNoPodMeta;

  // ztunnel: namespace, label and service account must all match (not "any app=ztunnel").
  auto label = p.labels.find(policy.ztunnelLabelKey);
  if (podNamespace == policy.ztunnelNamespace && label != p.labels.end() &&
      label->second == policy.ztunnelLabelValue &&
      p.serviceAccount == policy.ztunnelServiceAccount) {
    return {PodRole::kZtunnel, "ztunnel pod (namespace, label and service account match)"};
  }
  if (p.hostNetwork) {
    return {PodRole::kNotAmbient, "pod uses the node's network (hostNetwork): nothing to redirect"};
  }
  if (policy.excludedNamespaces.count(podNamespace)) {
    return {PodRole::kNotAmbient, "namespace " + podNamespace + " is excluded by configuration"};
  }
  const NamespaceMeta* ns = meta.ns(podNamespace);
  auto mode = ns ? ns->labels.find(kDataplaneModeLabel) : Labels::const_iterator{};
  if (!ns || mode == ns->labels.end() || mode->second != kDataplaneModeAmbient) {
    return {PodRole::kNotAmbient, std::string("namespace ") + podNamespace + " is not labelled " +
                                      kDataplaneModeLabel + "=" + kDataplaneModeAmbient};
  }
  if (p.annotations.count(kSidecarStatusAnnotation)) {
    return {PodRole::kNotAmbient,
            "pod has a sidecar (annotation " + std::string(kSidecarStatusAnnotation) + ")"};
  }
  auto optOut = p.annotations.find(kRedirectionAnnotation);
  if (optOut != p.annotations.end() && optOut->second == kRedirectionDisabled) {
    return {PodRole::kNotAmbient, std::string("pod opted out (") + kRedirectionAnnotation + "=" +
                                      kRedirectionDisabled + ")"};
  }
  return {PodRole::kAmbient, "namespace " + podNamespace + " is ambient"};
}

Result<MetadataSnapshot> parseMetadataFile(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kProtocol, "metadata file is not a JSON object");
  }
  MetadataSnapshot out;
  try {
    if (j.contains("namespaces")) {
      if (!j["namespaces"].is_object()) {
        return fail(ErrorCode::kProtocol, "metadata file: \"namespaces\" is not an object");
      }
      for (auto& [name, ns] : j["namespaces"].items()) {
        out.namespaces[name].labels = ns.value("labels", Labels{});
      }
    }
    if (j.contains("pods")) {
      if (!j["pods"].is_object()) {
        return fail(ErrorCode::kProtocol, "metadata file: \"pods\" is not an object");
      }
      for (auto& [key, pod] : j["pods"].items()) {
        if (key.find('/') == std::string::npos) {
          return fail(ErrorCode::kProtocol,
                      "metadata file: pod key \"" + key + "\" is not \"namespace/name\"");
        }
        if (!pod.is_object()) {
          return fail(ErrorCode::kProtocol, "metadata file: pod \"" + key + "\" is not an object");
        }
        PodMeta m;
        m.labels = pod.value("labels", Labels{});
        m.annotations = pod.value("annotations", Labels{});
        m.serviceAccount = pod.value("serviceAccount", std::string("default"));
        m.uid = pod.value("uid", std::string());
        m.hostNetwork = pod.value("hostNetwork", false);
        bool local = pod.contains("podIPs");
        if (local) {
          // As in status.podIPs, decoded here once.
          for (const auto& text : pod["podIPs"].get<std::vector<std::string>>()) {
            auto ip = IpAddress::parse(text, "metadata file: pod \"" + key + "\" podIPs");
            if (!ip) return fail(ErrorCode::kProtocol, ip.error().message());
            m.ips.push_back(*ip);
          }
          out.nodePods[key] = m;
        }
        out.pods[key] = std::move(m);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kProtocol, std::string("metadata file is malformed: ") + e.what());
  }
  return out;
}

}  // namespace ambient
