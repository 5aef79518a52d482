// Metadata from the Kubernetes API. Touches the network.
#include "node-agent/sys/api_metadata_source.h"

#include "common/mesh/api_snapshot.h"

namespace ambient {

template <class T>
k8s::Informer<T> ApiMetadataSource::makeInformer(const k8s::ClusterConfig& config,
                                                 k8s::ListOptions options) {
  // Every informer reports through one sink that also remembers the last failure for /readyz.
  k8s::LogSink sink = [this](k8s::LogLevel level, const std::string& message,
                             const k8s::LogFields& fields) {
    if (level == k8s::LogLevel::kWarn || level == k8s::LogLevel::kError) {
      std::string text = message;
      for (const auto& [k, v] : fields) text += " " + k + "=" + v;
      std::lock_guard lock(errorMu_);
      lastError_ = text;
    }
    if (log_) log_(level, message, fields);
  };
  auto onChange = [this](const k8s::Change<T>& change) {
    if (log_) {
      log_(k8s::LogLevel::kDebug, "api change",
           {{"kind", std::string(k8s::ObjectTraits<T>::kKind)},
            {"object", change.object().meta.key()}});
    }
    changed();
  };
  return k8s::Informer<T>(config, std::move(options), onChange, sink);
}

ApiMetadataSource::ApiMetadataSource(const k8s::ClusterConfig& config, const std::string& nodeName,
                                     k8s::LogSink log, std::function<void()> onChange,
                                     std::chrono::milliseconds policyRetry)
    : log_(std::move(log)),
      onChange_(std::move(onChange)),
      namespaces_(makeInformer<k8s::Namespace>(config)),
      pods_(makeInformer<k8s::Pod>(config)),
      services_(makeInformer<k8s::Service>(config)),
      slices_(makeInformer<k8s::EndpointSlice>(config)),
      nodePods_(makeInformer<k8s::Pod>(config, {"", "", "spec.nodeName=" + nodeName})),
      policies_(
          config, log_, [this] { changed(); }, policyRetry) {}

ApiMetadataSource::~ApiMetadataSource() {
  stop();
}

Status ApiMetadataSource::start() {
  for (Status s : {namespaces_.start(), pods_.start(), services_.start(), slices_.start(),
                   nodePods_.start(), policies_.start()}) {
    if (!s) return s;
  }
  return {};
}

void ApiMetadataSource::stop() {
  policies_.stop();
  namespaces_.stop();
  pods_.stop();
  services_.stop();
  slices_.stop();
  nodePods_.stop();
}

void ApiMetadataSource::changed() {
  dirty_ = true;
  if (onChange_) onChange_();
}

bool ApiMetadataSource::synced(std::string* reason) const {
  std::string waiting;
  if (!namespaces_.synced()) waiting += " namespaces";
  if (!pods_.synced()) waiting += " pods";
  if (!services_.synced()) waiting += " services";
  if (!slices_.synced()) waiting += " endpointslices";
  if (!nodePods_.synced()) waiting += " this-node-pods";
  if (waiting.empty()) return true;
  if (reason) {
    std::lock_guard lock(errorMu_);
    *reason = "Kubernetes API not synced (waiting for" + waiting + ")" +
              (lastError_.empty() ? "" : "; last error: " + lastError_);
  }
  return false;
}

SnapshotPtr ApiMetadataSource::snapshot() {
  std::lock_guard lock(snapshotMu_);
  std::string reason;
  bool ready = synced(&reason);
  if (!dirty_.exchange(false) && snapshot_ && snapshot_->ready == ready) return snapshot_;
  ApiObjects objects{namespaces_.list(),
                     pods_.list(),
                     services_.list(),
                     slices_.list(),
                     nodePods_.list(),
                     policies_.authorizationPolicies(),
                     policies_.peerAuthentications()};
  auto built = std::make_shared<MetadataSnapshot>(snapshotFromApi(objects, ready));
  built->ready = ready;
  built->notReadyReason = reason;
  snapshot_ = std::move(built);
  return snapshot_;
}

std::string ApiMetadataSource::describeStats() const {
  auto one = [](const char* name, const k8s::WatcherStats& s) {
    return std::string(name) + ": lists=" + std::to_string(s.lists) +
           " watches=" + std::to_string(s.watches) + " expired=" + std::to_string(s.expired) +
           " errors=" + std::to_string(s.errors) + " events=" + std::to_string(s.events);
  };
  return one("namespaces", namespaces_.stats()) + "; " + one("pods", pods_.stats()) + "; " +
         one("services", services_.stats()) + "; " + one("endpointslices", slices_.stats()) + "; " +
         one("this-node-pods", nodePods_.stats()) + "; " + policies_.describeStats();
}

}  // namespace ambient
