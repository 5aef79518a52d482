// The agent's cluster knowledge and its follow-ups. Touches the network and files.
#include "node-agent/sys/cluster_sync.h"

#include <set>

#include "common/log/log.h"
#include "common/sys/atomic_file.h"
#include "node-agent/core/ztunnel_view.h"
#include "node-agent/sys/api_access.h"

namespace ambient {
namespace {

// Coalesces a burst of changes (a relist, a namespace label flip) into one pass.
constexpr auto kSettle = std::chrono::milliseconds(100);

}  // namespace

Result<std::unique_ptr<ClusterSync>> ClusterSync::create(const AgentFlags& flags) {
  std::unique_ptr<ClusterSync> sync(new ClusterSync(flags));
  if (flags.kubeconfig.empty()) return sync;
  auto config = loadAgentApiConfig(flags.kubeconfig);
  if (!config) return fail(config.error());
  ClusterSync* self = sync.get();
  sync->api_ = std::make_unique<ApiMetadataSource>(
      *config, flags.nodeName, agentLogSink(), [self] { self->poke(); },
      std::chrono::seconds(flags.policyDiscoveryIntervalSeconds));
  auto annotator = ApiPodAnnotator::create(*config, agentLogSink());
  if (!annotator) return fail(annotator.error().wrap("Kubernetes API client"));
  sync->annotator_ = std::move(*annotator);
  return sync;
}

ClusterSync::~ClusterSync() {
  stop();
}

MetadataSource& ClusterSync::metadata() {
  if (api_) return *api_;
  return file_;
}

Status ClusterSync::start(Enroller& enroller, std::function<void(const std::string&)> onError,
                          std::function<void()> afterResync) {
  onError_ = std::move(onError);
  afterResync_ = std::move(afterResync);
  if (api_) {
    if (auto s = api_->start(); !s) return s;
  }
  poked_ = true;  // the first resync (and its discovery pass) right after start
  thread_ = std::thread([this, &enroller] { run(enroller); });
  return {};
}

void ClusterSync::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (api_) api_->stop();
}

void ClusterSync::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  wake_.notify_all();
}

bool ClusterSync::ready(std::string* reason) const {
  return !api_ || (api_->synced(reason) && api_->policiesSettled(reason));
}

void ClusterSync::run(Enroller& enroller) {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Without the API the metadata file is polled by the periodic pass; wake rarely.
    wake_.wait_for(lock, std::chrono::seconds(api_ ? 30 : 5), [&] { return stopping_ || poked_; });
    if (stopping_) break;
    wake_.wait_for(lock, kSettle, [&] { return stopping_; });
    poked_ = false;
    lock.unlock();
    if (auto s = enroller.resync(); !s && onError_) onError_(s.error().message());
    if (afterResync_) afterResync_();
    if (api_) writeView(enroller);
    lock.lock();
  }
}

void ClusterSync::writeView(Enroller& enroller) {
  SnapshotPtr snapshot = api_->snapshot();
  if (!snapshot->ready) return;  // an empty view would make ztunnel forget every workload
  // Nor a view without policies that exist (a DENY would be lifted): wait for their first lists.
  if (!api_->policiesSettled(nullptr)) return;
  std::set<std::string> enrolledHere;
  for (const auto& [uid, pod] : enroller.registry().pods) {
    if (pod.enrolled) enrolledHere.insert(pod.podNamespace + "/" + pod.name);
  }
  ZtunnelViewSettings settings;
  settings.trustDomain = flags_.trustDomain;
  settings.clusterDomain = flags_.clusterDomain;
  settings.rootNamespace = flags_.rootNamespace;
  std::string view = renderZtunnelView(*snapshot, enrolledHere, flags_.nodeName, settings);
  if (view == lastView_) return;
  if (auto s = writeFileAtomic(flags_.viewPath(), view, 0644); !s) {
    if (onError_) onError_("cannot write ztunnel's view: " + s.error().message());
    return;
  }
  lastView_ = std::move(view);
  logLine(LogLevel::kDebug, "ztunnel view written", {{"path", flags_.viewPath()}});
}

}  // namespace ambient
