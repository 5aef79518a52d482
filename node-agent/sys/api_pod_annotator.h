// Marks enrolled pods with ambient.istio.io/redirection=enabled on the API server, from a
// queue on its own thread so that enrollment never waits for the API. Each mark reads the pod
// first and patches with its resourceVersion (a concurrent change gives 409 and a retry), so a
// user's "disabled" is never overwritten or removed. Failures retry with backoff; a pod that
// no longer exists is dropped. Touches the network.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common/k8s/api_client.h"
#include "common/k8s/log_sink.h"
#include "node-agent/core/agent_ports.h"

namespace ambient {

class ApiPodAnnotator : public PodAnnotator {
 public:
  static Result<std::unique_ptr<ApiPodAnnotator>> create(const k8s::ClusterConfig& config,
                                                         k8s::LogSink log);
  ~ApiPodAnnotator() override;
  void markEnrolled(const std::string& podNamespace, const std::string& podName,
                    bool enrolled) override;
  // Marks not yet confirmed by the API server.
  size_t pending() const;

 private:
  ApiPodAnnotator(std::unique_ptr<k8s::ApiClient> client, k8s::LogSink log);
  void run();
  // One attempt; false when it should be retried.
  bool apply(const std::string& key, bool enrolled);

  std::unique_ptr<k8s::ApiClient> client_;
  k8s::LogSink log_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, bool> queue_;  // "namespace/name" -> latest wanted mark
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ambient
