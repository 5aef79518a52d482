// Istio's AuthorizationPolicies and PeerAuthentications from the Kubernetes API, for ztunnel's
// view. A thread looks for the security.istio.io CRDs (v1, else v1beta1) and starts an informer
// for each one served; while a CRD is absent (404) or forbidden (403) the agent works without
// it, says so in /readyz and looks again every `retryInterval`, so installing Istio later starts
// the watch without a restart. Touches the network.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/k8s/crd_discovery.h"
#include "common/k8s/informer.h"

namespace ambient {

class PolicyWatch {
 public:
  // `onChange` runs on a watch thread after a policy changed or the discovery's outcome did; it
  // must not block.
  PolicyWatch(k8s::ClusterConfig config, k8s::LogSink log, std::function<void()> onChange,
              std::chrono::milliseconds retryInterval);
  ~PolicyWatch();
  PolicyWatch(const PolicyWatch&) = delete;
  PolicyWatch& operator=(const PolicyWatch&) = delete;

  Status start();
  void stop();

  // The current objects; empty while a CRD is not watched.
  std::vector<k8s::AuthorizationPolicy> authorizationPolicies() const;
  std::vector<k8s::PeerAuthentication> peerAuthentications() const;
  // False until every CRD is either watched and listed once, or known absent or forbidden:
  // until then ztunnel's view would lack policies that exist. `reason` says what is awaited.
  bool settled(std::string* reason) const;
  // "" when both CRDs are watched; else one line on why policies are not watched.
  std::string note() const;
  std::string describeStats() const;

 private:
  struct Resource {
    std::string plural;
    std::vector<k8s::ResourceType> candidates;  // in order of preference
    std::optional<k8s::CrdChoice> choice;       // the last discovery's outcome
    bool started = false;
    // A definitive answer (absent or forbidden) was seen once: a later transient failure of a
    // re-probe does not make the agent wait again.
    bool answered = false;
  };
  void run();
  // Probes one resource's versions; starts its informer when one is served.
  void discover(size_t index);
  bool informerSynced(size_t index) const;
  void sleepFor(std::chrono::milliseconds delay);

  k8s::ClusterConfig config_;
  k8s::LogSink log_;
  std::function<void()> onChange_;
  std::chrono::milliseconds retryInterval_;
  std::unique_ptr<k8s::ApiClient> client_;
  std::thread thread_;
  mutable std::mutex mu_;  // guards resources_, the informer pointers and stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<Resource> resources_;  // [0] authorizationpolicies, [1] peerauthentications
  std::unique_ptr<k8s::Informer<k8s::AuthorizationPolicy>> authorization_;
  std::unique_ptr<k8s::Informer<k8s::PeerAuthentication>> peer_;
};

}  // namespace ambient
