// Asks the API server which version of a custom resource it serves: lists each candidate
// version with limit=1, in order, while they answer 404. Touches the network.
#pragma once

#include <vector>

#include "common/k8s/api_client.h"
#include "common/k8s/crd_discovery.h"

namespace ambient::k8s {

CrdChoice probeCrdVersions(ApiClient& client, const std::vector<ResourceType>& candidates);

}  // namespace ambient::k8s
