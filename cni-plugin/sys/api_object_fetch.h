// For ambient-cni-api-lookup: reads the kubeconfig and GETs the pod's namespace and the pod from
// the Kubernetes API within one time budget. Touches files and the network.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cni-plugin/core/metadata_lookup.h"

namespace ambient::cni {

struct PodObjects {
  nlohmann::json namespaceObject;  // null when the API answered 404
  nlohmann::json podObject;        // null when the API answered 404
};

Result<PodObjects> fetchPodObjects(const ApiLookupTarget& target, const std::string& podNamespace,
                                   const std::string& podName);

}  // namespace ambient::cni
