// Where the agent's cluster knowledge comes from and what follows a change: the Kubernetes API
// (informers, pod marks, ztunnel's view file) when configured, else the local metadata file.
// A thread re-decides registered pods (Enroller::resync) and rewrites ztunnel's view shortly
// after each change, coalescing bursts. Touches the network and files.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "node-agent/core/agent_flags.h"
#include "node-agent/core/enroller.h"
#include "node-agent/sys/api_metadata_source.h"
#include "node-agent/sys/api_pod_annotator.h"
#include "node-agent/sys/metadata_file_source.h"

namespace ambient {

class ClusterSync {
 public:
  // Loads the cluster config when the API is configured; errors name the kubeconfig.
  static Result<std::unique_ptr<ClusterSync>> create(const AgentFlags& flags);
  ~ClusterSync();

  MetadataSource& metadata();
  PodAnnotator* annotator() { return annotator_.get(); }
  bool usesApi() const { return api_ != nullptr; }

  // Starts the informers and the sync thread for `enroller` (which must outlive stop()).
  // `afterResync` runs on the sync thread after each resync (the not-enrolled list follows).
  Status start(Enroller& enroller, std::function<void(const std::string&)> onError,
               std::function<void()> afterResync = {});
  void stop();
  // Asks for a resync and a view rewrite soon (after a plugin request changed the registry).
  void poke();
  // Not ready while the API has not listed everything once; `reason` says why.
  // Also not ready while the policy CRDs' discovery or first lists are pending.
  bool ready(std::string* reason) const;
  // "" unless the API is used and Istio's policies are not watched: then why (for /readyz).
  std::string policyNote() const { return api_ ? api_->policyNote() : std::string(); }

 private:
  explicit ClusterSync(const AgentFlags& flags) : flags_(flags), file_(flags.metadataFile) {}
  void run(Enroller& enroller);
  void writeView(Enroller& enroller);

  AgentFlags flags_;
  MetadataFileSource file_;
  std::unique_ptr<ApiMetadataSource> api_;
  std::unique_ptr<ApiPodAnnotator> annotator_;
  std::function<void(const std::string&)> onError_;
  std::function<void()> afterResync_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool poked_ = true;
  bool stopping_ = false;
  std::string lastView_;
  std::thread thread_;
};

}  // namespace ambient
