// Probing a custom resource's versions. Touches the network.
#include "common/k8s/crd_probe.h"

namespace ambient::k8s {

CrdChoice probeCrdVersions(ApiClient& client, const std::vector<ResourceType>& candidates) {
  std::vector<Status> answers;
  for (const auto& type : candidates) {
    auto listed = client.get(renderProbeTarget(type));
    answers.push_back(listed ? Status{} : Status(fail(listed.error())));
    if (answers.back() || !answers.back().error().isNotFound()) break;
  }
  return chooseCrdVersion(answers);
}

}  // namespace ambient::k8s
