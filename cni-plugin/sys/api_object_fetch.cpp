// GET /api/v1/namespaces/NS and /api/v1/namespaces/NS/pods/NAME with one deadline for both.
// Touches files and the network.
#include "cni-plugin/sys/api_object_fetch.h"

#include <algorithm>
#include <chrono>

#include "common/k8s/api_client.h"
#include "common/k8s/api_paths.h"
#include "common/k8s/cluster_config_load.h"

namespace ambient::cni {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// GETs one object with what is left of the budget (half for connecting, half for the answer:
// cpp-httplib's timeouts are per phase). A null json on 404.
Result<nlohmann::json> getWithin(const k8s::ClusterConfig& config, const std::string& path,
                                 Clock::time_point deadline, int budgetMs) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  if (left.count() <= 0)
    return fail(ErrorCode::kUnavailable,
                "GET " + path + ": apiTimeoutMs (" + std::to_string(budgetMs) + " ms) used up");
  k8s::ClientOptions options;
  options.connectTimeout = std::max(milliseconds(1), left / 2);
  options.requestTimeout = std::max(milliseconds(1), left / 2);
  options.userAgent = "ambient-cni";
  auto client = k8s::ApiClient::create(config, options);
  if (!client) return fail(client.error());
  auto got = (*client)->get(path);
  if (!got && got.error().isNotFound()) return nlohmann::json();
  if (!got) return fail(got.error().wrap("GET " + path + " from " + config.server));
  return got;
}

}  // namespace

Result<PodObjects> fetchPodObjects(const ApiLookupTarget& target, const std::string& podNamespace,
                                   const std::string& podName) {
  const auto deadline = Clock::now() + milliseconds(target.timeoutMs);
  auto config = k8s::loadKubeconfigFile(target.kubeconfig);
  if (!config) return fail(config.error());
  PodObjects out;
  auto ns = getWithin(*config, k8s::renderObjectPath(k8s::kNamespaces, "", podNamespace), deadline,
                      target.timeoutMs);
  if (!ns) return fail(ns.error());
  out.namespaceObject = std::move(*ns);
  auto pod = getWithin(*config, k8s::renderObjectPath(k8s::kPods, podNamespace, podName), deadline,
                       target.timeoutMs);
  if (!pod) return fail(pod.error());
  out.podObject = std::move(*pod);
  return out;
}

}  // namespace ambient::cni
