// The plugin's own view of the Kubernetes API, used only when the node agent cannot be reached:
// the pod's namespace and the pod itself. An interface so that runPlugin() stays pure and unit
// tests answer with a fake; the real one (cni-plugin/sys) uses common/k8s's ApiClient. Pure.
#pragma once

#include <string>

#include "common/core/error.h"
#include "common/mesh/api_snapshot.h"

namespace ambient::cni {

// From the network config: `kubeconfig` and `apiTimeoutMs` (the budget of the whole lookup).
struct ApiLookupTarget {
  std::string kubeconfig;
  int timeoutMs = 2000;
};

class MetadataLookup {
 public:
  virtual ~MetadataLookup() = default;
  // The namespace and the pod as the API has them: `namespaces` and `pods` hold the object, or
  // nothing when the API answered 404. Any other failure (kubeconfig unreadable, API
  // unreachable, timed out, refused) is an error whose message says which.
  virtual Result<ApiObjects> lookup(const ApiLookupTarget& target, const std::string& podNamespace,
                                    const std::string& podName) = 0;
};

// For callers without API access: every lookup fails (the plugin then fails closed).
class NoMetadataLookup : public MetadataLookup {
 public:
  Result<ApiObjects> lookup(const ApiLookupTarget&, const std::string&,
                            const std::string&) override {
    return fail(ErrorCode::kUnavailable, "this build of ambient-cni has no Kubernetes API lookup");
  }
};

}  // namespace ambient::cni
