// Pod annotation marks through the API. Touches the network.
#include "node-agent/sys/api_pod_annotator.h"

#include <algorithm>

#include "common/k8s/api_paths.h"
#include "common/mesh/membership.h"

namespace ambient {

Result<std::unique_ptr<ApiPodAnnotator>> ApiPodAnnotator::create(const k8s::ClusterConfig& config,
                                                                 k8s::LogSink log) {
  k8s::ClientOptions options;
  options.requestTimeout = std::chrono::milliseconds(5000);
  auto client = k8s::ApiClient::create(config, options);
  if (!client) return fail(client.error());
  return std::unique_ptr<ApiPodAnnotator>(new ApiPodAnnotator(std::move(*client), std::move(log)));
}

ApiPodAnnotator::ApiPodAnnotator(std::unique_ptr<k8s::ApiClient> client, k8s::LogSink log)
    : client_(std::move(client)), log_(std::move(log)), thread_([this] { run(); }) {}

ApiPodAnnotator::~ApiPodAnnotator() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  client_->stop();
  wake_.notify_all();
  thread_.join();
}

void ApiPodAnnotator::markEnrolled(const std::string& ns, const std::string& name, bool enrolled) {
  {
    std::lock_guard lock(mu_);
    queue_[ns + "/" + name] = enrolled;
  }
  wake_.notify_all();
}

size_t ApiPodAnnotator::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool ApiPodAnnotator::apply(const std::string& key, bool enrolled) {
  auto slash = key.find('/');
  std::string path = k8s::renderObjectPath(k8s::kPods, key.substr(0, slash), key.substr(slash + 1));
  auto pod = client_->get(path);
  if (!pod) {
    if (pod.error().isNotFound()) return true;  // gone: nothing to mark
    if (log_)
      log_(k8s::LogLevel::kWarn, "cannot read pod to mark it",
           {{"pod", key}, {"error", pod.error().message()}});
    return false;
  }
  const auto& meta = (*pod)["metadata"];
  std::string current;
  if (meta.contains("annotations") && meta["annotations"].contains(kRedirectionAnnotation) &&
      (*pod)["metadata"]["annotations"][kRedirectionAnnotation].is_string()) {
    current = meta["annotations"][kRedirectionAnnotation].get<std::string>();
  }
  // Never touch a user's opt-out; only add or remove our own mark.
  if (current == kRedirectionDisabled) return true;
  if (enrolled == (current == kRedirectionEnabled)) return true;
  nlohmann::json patch = {
      {"metadata",
       {{"resourceVersion", meta.value("resourceVersion", "")},
        {"annotations",
         {{kRedirectionAnnotation,
           enrolled ? nlohmann::json(kRedirectionEnabled) : nlohmann::json()}}}}}};
  auto patched = client_->mergePatch(path, patch);
  if (!patched) {
    if (patched.error().isNotFound()) return true;
    if (log_)
      log_(k8s::LogLevel::kWarn, "cannot mark pod",
           {{"pod", key}, {"error", patched.error().message()}});
    return false;
  }
  if (log_)
    log_(k8s::LogLevel::kDebug, enrolled ? "pod marked enrolled" : "pod mark removed",
         {{"pod", key}});
  return true;
}

void ApiPodAnnotator::run() {
  auto backoff = std::chrono::milliseconds(250);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      continue;
    }
    auto work = queue_;
    lock.unlock();
    std::map<std::string, bool> done;
    bool failed = false;
    for (const auto& [key, enrolled] : work) {
      if (apply(key, enrolled))
        done[key] = enrolled;
      else
        failed = true;
    }
    lock.lock();
    for (const auto& [key, enrolled] : done) {
      auto it = queue_.find(key);
      if (it != queue_.end() && it->second == enrolled) queue_.erase(it);  // no newer wish
    }
    if (failed) {
      wake_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    } else {
      backoff = std::chrono::milliseconds(250);
    }
  }
}

}  // namespace ambient
