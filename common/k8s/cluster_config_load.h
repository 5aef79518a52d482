// Finds and reads the cluster config: an explicit kubeconfig, the in-cluster service account,
// $KUBECONFIG or ~/.kube/config. Touches the filesystem and the environment.
#pragma once

#include <string>

#include "common/k8s/kubeconfig.h"

namespace ambient::k8s {

struct InClusterPaths {
  std::string tokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string caPath = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespacePath = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// Reads and parses one kubeconfig file; errors name the file.
Result<ClusterConfig> loadKubeconfigFile(const std::string& path, const std::string& context = "");
// From $KUBERNETES_SERVICE_HOST/PORT and the service-account files (the token file must exist;
// it is re-read per request later).
Result<ClusterConfig> loadInClusterConfig(const InClusterPaths& paths = {});
// `kubeconfigPath` when given; else in-cluster when $KUBERNETES_SERVICE_HOST is set; else
// $KUBECONFIG (first entry); else ~/.kube/config.
Result<ClusterConfig> loadClusterConfig(const std::string& kubeconfigPath = "",
                                        const std::string& context = "",
                                        const InClusterPaths& paths = {});

}  // namespace ambient::k8s
