// Discovery and informers of Istio's policy CRDs. Touches the network.
#include "node-agent/sys/policy_watch.h"

#include <random>

#include "common/k8s/backoff.h"
#include "common/k8s/crd_probe.h"

namespace ambient {
namespace {

constexpr auto kFailureBackoffInitial = std::chrono::milliseconds(1000);
constexpr auto kSyncPoll = std::chrono::milliseconds(100);

std::string versionOf(const k8s::ResourceType& type) {
  std::string_view prefix = type.apiPrefix;
  return std::string(prefix.substr(prefix.find("security.istio.io")));
}

}  // namespace

PolicyWatch::PolicyWatch(k8s::ClusterConfig config, k8s::LogSink log,
                         std::function<void()> onChange, std::chrono::milliseconds retryInterval)
    : config_(std::move(config)),
      log_(std::move(log)),
      onChange_(std::move(onChange)),
      retryInterval_(retryInterval) {
  resources_.push_back({"authorizationpolicies",
                        {k8s::kAuthorizationPolicies, k8s::kAuthorizationPoliciesV1beta1},
                        std::nullopt,
                        false});
  resources_.push_back({"peerauthentications",
                        {k8s::kPeerAuthentications, k8s::kPeerAuthenticationsV1beta1},
                        std::nullopt,
                        false});
}

PolicyWatch::~PolicyWatch() {
  stop();
}

Status PolicyWatch::start() {
  if (thread_.joinable()) return {};
  auto client = k8s::ApiClient::create(config_);
  if (!client) return fail(client.error().wrap("security.istio.io CRD discovery"));
  client_ = std::move(*client);
  thread_ = std::thread([this] { run(); });
  return {};
}

void PolicyWatch::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (client_) client_->stop();
  if (thread_.joinable()) thread_.join();
  if (authorization_) authorization_->stop();
  if (peer_) peer_->stop();
}

void PolicyWatch::sleepFor(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void PolicyWatch::discover(size_t index) {
  std::vector<k8s::ResourceType> candidates;
  {
    std::lock_guard lock(mu_);
    candidates = resources_[index].candidates;
  }
  k8s::CrdChoice choice = k8s::probeCrdVersions(*client_, candidates);
  std::optional<k8s::CrdChoice> before;
  {
    std::lock_guard lock(mu_);
    before = resources_[index].choice;
    resources_[index].choice = choice;
    if (choice.state != k8s::CrdState::kFailed) resources_[index].answered = true;
  }
  const std::string& plural = resources_[index].plural;
  if (choice.state != k8s::CrdState::kServed) {
    if (log_ && (!before || before->state != choice.state)) {
      log_(choice.state == k8s::CrdState::kAbsent ? LogLevel::kInfo : LogLevel::kWarn,
           "policies not watched: " + plural + ": " + choice.why,
           {{"resource", plural + ".security.istio.io"}});
    }
    return;
  }
  const k8s::ResourceType& type = candidates[choice.version];
  auto changed = [this](const auto&) {
    if (onChange_) onChange_();
  };
  Status started;
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (index == 0) {
    authorization_ = std::make_unique<k8s::Informer<k8s::AuthorizationPolicy>>(
        config_, type, k8s::ListOptions{}, changed, log_);
    started = authorization_->start();
  } else {
    peer_ = std::make_unique<k8s::Informer<k8s::PeerAuthentication>>(
        config_, type, k8s::ListOptions{}, changed, log_);
    started = peer_->start();
  }
  if (!started) {
    resources_[index].choice = k8s::CrdChoice{k8s::CrdState::kFailed, 0, started.error().message()};
    resources_[index].answered = false;
    return;
  }
  resources_[index].started = true;
  if (log_) {
    log_(LogLevel::kInfo, "watching " + plural,
         {{"resource", plural + ".security.istio.io"}, {"version", versionOf(type)}});
  }
}

bool PolicyWatch::informerSynced(size_t index) const {
  if (index == 0) return authorization_ && authorization_->synced();
  return peer_ && peer_->synced();
}

void PolicyWatch::run() {
  k8s::Backoff failures(kFailureBackoffInitial, std::max(retryInterval_, kFailureBackoffInitial));
  std::mt19937 random{std::random_device{}()};
  while (true) {
    bool failed = false;
    bool allStarted = true;
    for (size_t i = 0; i < resources_.size(); ++i) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        if (resources_[i].started) continue;
      }
      discover(i);
      std::lock_guard lock(mu_);
      failed = failed || resources_[i].choice->state == k8s::CrdState::kFailed;
      allStarted = allStarted && resources_[i].started;
    }
    // Wait for the new informers' first lists, so that the view is written with the policies.
    while (true) {
      std::unique_lock lock(mu_);
      bool pending = false;
      for (size_t i = 0; i < resources_.size(); ++i) {
        pending = pending || (resources_[i].started && !informerSynced(i));
      }
      if (!pending || stopping_) break;
      wake_.wait_for(lock, kSyncPoll, [this] { return stopping_; });
    }
    if (onChange_) onChange_();
    if (allStarted) return;
    if (failed) {
      sleepFor(failures.next(std::uniform_real_distribution<double>(0.0, 1.0)(random)));
    } else {
      failures.reset();
      sleepFor(retryInterval_);
    }
  }
}

std::vector<k8s::AuthorizationPolicy> PolicyWatch::authorizationPolicies() const {
  std::lock_guard lock(mu_);
  return authorization_ ? authorization_->list() : std::vector<k8s::AuthorizationPolicy>{};
}

std::vector<k8s::PeerAuthentication> PolicyWatch::peerAuthentications() const {
  std::lock_guard lock(mu_);
  return peer_ ? peer_->list() : std::vector<k8s::PeerAuthentication>{};
}

bool PolicyWatch::settled(std::string* reason) const {
  std::lock_guard lock(mu_);
  std::string waiting;
  for (size_t i = 0; i < resources_.size(); ++i) {
    const Resource& r = resources_[i];
    if (!r.choice) {
      waiting += "; looking for the " + r.plural + ".security.istio.io CRD";
    } else if (r.choice->state == k8s::CrdState::kFailed && !r.answered) {
      waiting +=
          "; cannot tell whether " + r.plural + ".security.istio.io is served: " + r.choice->why;
    } else if (r.started && !informerSynced(i)) {
      waiting += "; waiting for the first list of " + r.plural;
    }
  }
  if (waiting.empty()) return true;
  if (reason) *reason = "policies not ready (" + waiting.substr(2) + ")";
  return false;
}

std::string PolicyWatch::note() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> absent;
  std::string other;
  for (const Resource& r : resources_) {
    if (!r.choice || r.started) continue;
    if (r.choice->state == k8s::CrdState::kAbsent) {
      absent.push_back(r.plural);
    } else if (r.choice->state == k8s::CrdState::kForbidden) {
      other += "; may not list " + r.plural + ".security.istio.io: " + r.choice->why;
    } else if (r.choice->state == k8s::CrdState::kFailed) {
      other +=
          "; cannot tell whether " + r.plural + ".security.istio.io is served: " + r.choice->why;
    }
  }
  std::string parts;
  if (absent.size() == resources_.size()) {
    parts =
        "; no security.istio.io CRDs: authorizationpolicies and peerauthentications answer "
        "404 at v1 and v1beta1";
  } else {
    for (const auto& plural : absent) {
      parts += "; no " + plural + ".security.istio.io CRD (404 at v1 and v1beta1)";
    }
  }
  parts += other;
  if (parts.empty()) return {};
  return "policies not watched (" + parts.substr(2) + "); looking again every " +
         std::to_string(retryInterval_.count() / 1000) + " s";
}

std::string PolicyWatch::describeStats() const {
  auto one = [](const std::string& name, const k8s::WatcherStats& s) {
    return name + ": lists=" + std::to_string(s.lists) + " watches=" + std::to_string(s.watches) +
           " expired=" + std::to_string(s.expired) + " errors=" + std::to_string(s.errors) +
           " events=" + std::to_string(s.events);
  };
  std::lock_guard lock(mu_);
  std::string out;
  if (authorization_) out += one("authorizationpolicies", authorization_->stats());
  if (peer_) out += (out.empty() ? "" : "; ") + one("peerauthentications", peer_->stats());
  return out.empty() ? "policies: not watched" : out;
}

}  // namespace ambient
