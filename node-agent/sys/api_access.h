// How the agent's binaries reach the Kubernetes API: the configuration named by --kubeconfig and
// the k8s library's log lines through the agent's JSON logger. Touches the filesystem.
#pragma once

#include <string>

#include "common/core/error.h"
#include "common/k8s/kubeconfig.h"
#include "common/k8s/log_sink.h"

namespace ambient {

// "in-cluster" (the pod's service account) or a kubeconfig path; never "" (no API).
Result<k8s::ClusterConfig> loadAgentApiConfig(const std::string& kubeconfig);
k8s::LogSink agentLogSink();

}  // namespace ambient
