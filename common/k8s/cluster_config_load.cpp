// Finds and reads the cluster config. Touches the filesystem and the environment.
#include "common/k8s/cluster_config_load.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ambient::k8s {
namespace {

Result<std::string> readFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kNotFound, "read " + what + " " + path, errno);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

Result<ClusterConfig> loadKubeconfigFile(const std::string& path, const std::string& context) {
  auto text = readFile(path, "kubeconfig");
  if (!text) return fail(text.error());
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (dir.empty()) dir = "/";
  return parseKubeconfig(*text, dir, context, "kubeconfig " + path);
}

Result<ClusterConfig> loadInClusterConfig(const InClusterPaths& paths) {
  InClusterInputs inputs{env("KUBERNETES_SERVICE_HOST"), env("KUBERNETES_SERVICE_PORT"),
                         paths.tokenPath, paths.caPath, ""};
  if (::access(paths.tokenPath.c_str(), R_OK) != 0) {
    return fail(ErrorCode::kNotFound,
                "in-cluster config: service-account token " + paths.tokenPath + " is not readable",
                errno);
  }
  if (auto ns = readFile(paths.namespacePath, "service-account namespace")) {
    inputs.namespaceText = *ns;
  }
  return computeInClusterConfig(inputs);
}

Result<ClusterConfig> loadClusterConfig(const std::string& kubeconfigPath,
                                        const std::string& context, const InClusterPaths& paths) {
  if (!kubeconfigPath.empty()) return loadKubeconfigFile(kubeconfigPath, context);
  if (!env("KUBERNETES_SERVICE_HOST").empty()) return loadInClusterConfig(paths);
  std::string fromEnv = env("KUBECONFIG");
  if (!fromEnv.empty()) return loadKubeconfigFile(fromEnv.substr(0, fromEnv.find(':')), context);
  std::string home = env("HOME");
  if (home.empty()) {
    return fail(ErrorCode::kNotFound,
                "no cluster config: pass a kubeconfig, run in a pod, or set $KUBECONFIG");
  }
  return loadKubeconfigFile(home + "/.kube/config", context);
}

}  // namespace ambient::k8s
