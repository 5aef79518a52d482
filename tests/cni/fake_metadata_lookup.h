// A scripted MetadataLookup for unit tests: answers from the namespaces and pods it holds (404
// as an empty answer), or fails like an unreachable API. Records every call. Pure.
#pragma once

#include <string>
#include <vector>

#include "cni-plugin/core/metadata_lookup.h"

namespace ambient::cni {

class FakeMetadataLookup : public MetadataLookup {
 public:
  bool apiUp = true;
  std::vector<k8s::Namespace> namespaces;
  std::vector<k8s::Pod> pods;
  struct Call {
    ApiLookupTarget target;
    std::string podNamespace;
    std::string podName;
  };
  std::vector<Call> calls;

  void addNamespace(const std::string& name, const k8s::Labels& labels = {}) {
    k8s::Namespace n;
    n.meta.name = name;
    n.meta.labels = labels;
    namespaces.push_back(n);
  }
  k8s::Pod& addPod(const std::string& ns, const std::string& name,
                   const std::string& serviceAccount = "default", const k8s::Labels& labels = {}) {
    k8s::Pod p;
    p.meta.namespace_ = ns;
    p.meta.name = name;
    p.meta.labels = labels;
    p.serviceAccountName = serviceAccount;
    p.phase = "Pending";
    pods.push_back(p);
    return pods.back();
  }

  Result<ApiObjects> lookup(const ApiLookupTarget& target, const std::string& podNamespace,
                            const std::string& podName) override {
    calls.push_back({target, podNamespace, podName});
    if (!apiUp)
      return fail(ErrorCode::kUnavailable, "GET /api/v1/namespaces/x: connection refused");
    ApiObjects out;
    for (const auto& n : namespaces)
      if (n.meta.name == podNamespace) out.namespaces.push_back(n);
    for (const auto& p : pods)
      if (p.meta.namespace_ == podNamespace && p.meta.name == podName) out.pods.push_back(p);
    return out;
  }
};

}  // namespace ambient::cni
