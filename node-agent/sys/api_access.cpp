// How the agent's binaries reach the Kubernetes API. Touches the filesystem.
#include "node-agent/sys/api_access.h"

#include "common/k8s/cluster_config_load.h"
#include "common/log/log.h"

namespace ambient {

Result<k8s::ClusterConfig> loadAgentApiConfig(const std::string& kubeconfig) {
  auto config =
      kubeconfig == "in-cluster" ? k8s::loadInClusterConfig() : k8s::loadKubeconfigFile(kubeconfig);
  if (!config) return fail(config.error().wrap("Kubernetes API configuration"));
  return config;
}

k8s::LogSink agentLogSink() {
  return [](LogLevel level, const std::string& message, const k8s::LogFields& fields) {
    logLine(level, message, fields);
  };
}

}  // namespace ambient
