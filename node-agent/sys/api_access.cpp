// How the agent's binaries reach the Kubernetes API. Touches the filesystem.
#include "node-agent/sys/api_access.h"

#include "common/k8s/cluster_config_load.h"
#include "node-agent/sys/json_log.h"

namespace ambient {

Result<k8s::ClusterConfig> loadAgentApiConfig(const std::string& kubeconfig) {
  auto config =
      kubeconfig == "in-cluster" ? k8s::loadInClusterConfig() : k8s::loadKubeconfigFile(kubeconfig);
  if (!config) return fail(config.error().wrap("Kubernetes API configuration"));
  return config;
}

k8s::LogSink agentLogSink() {
  return [](k8s::LogLevel level, const std::string& message, const k8s::LogFields& fields) {
    static constexpr LogLevel kLevels[] = {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                                           LogLevel::kError};
    logLine(kLevels[static_cast<int>(level)], message, fields);
  };
}

}  // namespace ambient
