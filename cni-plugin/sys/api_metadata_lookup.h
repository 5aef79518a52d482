// The real MetadataLookup: reads the kubeconfig and GETs the pod's namespace and the pod from
// the Kubernetes API within the configured budget. Touches files and the network.
#pragma once

#include "cni-plugin/core/metadata_lookup.h"

namespace ambient::cni {

class ApiMetadataLookup : public MetadataLookup {
 public:
  Result<ApiObjects> lookup(const ApiLookupTarget& target, const std::string& podNamespace,
                            const std::string& podName) override;
};

}  // namespace ambient::cni
