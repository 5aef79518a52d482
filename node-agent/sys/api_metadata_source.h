// Pod, namespace, service and EndpointSlice metadata from the Kubernetes API: one informer per
// resource (list + watch, relist on 410, reconnect with backoff); Istio's policy objects through
// a PolicyWatch when their CRDs are served. The snapshot is rebuilt on
// the first read after a change; until every informer has listed once it is not ready and says
// why. Touches the network.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include "common/k8s/informer.h"
#include "common/k8s/kubeconfig.h"
#include "node-agent/core/agent_ports.h"
#include "node-agent/sys/policy_watch.h"

namespace ambient {

class ApiMetadataSource : public MetadataSource {
 public:
  // `onChange` runs on an informer thread after any object changed; it must not block.
  // `nodeName` selects this node's pods for a watch of their own (fieldSelector
  // spec.nodeName), the discovery pass's source.
  // `policyRetry`: how often to look again for absent or forbidden policy CRDs.
  ApiMetadataSource(const k8s::ClusterConfig& config, const std::string& nodeName, k8s::LogSink log,
                    std::function<void()> onChange,
                    std::chrono::milliseconds policyRetry = std::chrono::seconds(60));
  ~ApiMetadataSource() override;
  Status start();
  void stop();

  SnapshotPtr snapshot() override;
  // All informers listed at least once; otherwise `reason` names the ones still waiting and the
  // last API error seen.
  bool synced(std::string* reason) const;
  // Policies are watched and listed, or known not to be served (PolicyWatch::settled). Not part
  // of synced(): pods are decided without policies.
  bool policiesSettled(std::string* reason) const { return policies_.settled(reason); }
  // "" when policies are watched; else why not (for /readyz).
  std::string policyNote() const { return policies_.note(); }
  std::string describeStats() const;

 private:
  template <class T>
  k8s::Informer<T> makeInformer(const k8s::ClusterConfig& config, k8s::ListOptions options = {});
  void changed();

  k8s::LogSink log_;
  std::function<void()> onChange_;
  mutable std::mutex errorMu_;
  std::string lastError_;
  std::atomic<bool> dirty_{true};
  std::mutex snapshotMu_;
  SnapshotPtr snapshot_;
  k8s::Informer<k8s::Namespace> namespaces_;
  k8s::Informer<k8s::Pod> pods_;
  k8s::Informer<k8s::Service> services_;
  k8s::Informer<k8s::EndpointSlice> slices_;
  k8s::Informer<k8s::Pod> nodePods_;
  PolicyWatch policies_;
};

}  // namespace ambient
