// The list+watch loop. Touches the network.
#include "common/k8s/watcher.h"

#include <random>

#include "common/k8s/backoff.h"

namespace ambient::k8s {

Watcher::Watcher(ClusterConfig config, ClientOptions clientOptions, ResourceType type,
                 ListOptions listOptions, WatchOptions watchOptions, WatchHandler& handler,
                 LogSink log)
    : config_(std::move(config)),
      clientOptions_(std::move(clientOptions)),
      type_(type),
      listOptions_(std::move(listOptions)),
      watchOptions_(watchOptions),
      handler_(handler),
      log_(std::move(log)),
      description_(describeWatch(type_, listOptions_)) {}

Watcher::~Watcher() {
  stop();
}

Status Watcher::start() {
  if (thread_.joinable()) return {};
  auto client = ApiClient::create(config_, clientOptions_);
  if (!client) return fail(client.error().wrap("watch " + description_));
  client_ = std::move(*client);
  stopping_ = false;
  done_ = false;
  thread_ = std::thread([this] { run(); });
  return {};
}

void Watcher::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // stop() shuts the socket of a request in flight; repeat it until the thread has seen the
  // flag, in case a new request was just starting.
  while (!done_) {
    client_->stop();
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_.load(); });
  }
  thread_.join();
}

std::string Watcher::resourceVersion() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return resourceVersion_;
}

WatcherStats Watcher::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Watcher::log(LogLevel level, const std::string& message) {
  if (log_) log_(level, message, {{"resource", description_}, {"server", config_.server}});
}

void Watcher::sleepBackoff(const std::string& why) {
  if (stopping_) return;
  Backoff backoff(watchOptions_.backoffInitial, watchOptions_.backoffMax);
  for (int i = 0; i < backoffFailures_; ++i) backoff.next(0.0);
  static thread_local std::mt19937 random{std::random_device{}()};
  auto delay = backoff.next(std::uniform_real_distribution<double>(0.0, 1.0)(random));
  ++backoffFailures_;
  log(LogLevel::kWarn, "watch " + description_ + ": " + why + "; retrying in " +
                           std::to_string(delay.count()) + " ms");
  std::unique_lock<std::mutex> lock(mutex_);
  ++stats_.errors;
  wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

bool Watcher::list() {
  auto body = client_->get(renderListTarget(type_, listOptions_));
  if (!body) {
    sleepBackoff("list failed: " + body.error().message());
    return false;
  }
  const auto& doc = *body;
  auto items = doc.find("items");
  auto meta = doc.find("metadata");
  std::string rv;
  if (meta != doc.end() && meta->is_object()) {
    auto it = meta->find("resourceVersion");
    if (it != meta->end() && it->is_string()) rv = it->get<std::string>();
  }
  if (!doc.is_object() || (items != doc.end() && !items->is_array() && !items->is_null()) ||
      rv.empty()) {
    sleepBackoff("list answer is not a " + std::string(type_.kind) +
                 "List with metadata.resourceVersion");
    return false;
  }
  std::vector<nlohmann::json> objects;
  if (items != doc.end() && items->is_array()) objects.assign(items->begin(), items->end());
  handler_.onList(objects, rv);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    resourceVersion_ = rv;
    ++stats_.lists;
  }
  synced_ = true;
  log(LogLevel::kDebug, "listed " + description_ + ": " + std::to_string(objects.size()) +
                            " objects at resourceVersion " + rv);
  return true;
}

Watcher::StreamEnd Watcher::watchOnce() {
  std::string rv = resourceVersion();
  auto idle = watchOptions_.idleTimeout.count() > 0
                  ? watchOptions_.idleTimeout
                  : std::chrono::milliseconds((watchOptions_.watchTimeoutSeconds + 30) * 1000LL);
  std::optional<ApiStatus> errorStatus;
  std::string badLine;
  int delivered = 0;
  auto started = std::chrono::steady_clock::now();
  auto outcome = client_->watch(
      renderWatchTarget(type_, listOptions_, rv, watchOptions_.watchTimeoutSeconds), idle,
      [&](std::string_view line) {
        auto event = parseWatchEvent(line);
        if (!event) {
          badLine = event.error().message();
          return false;
        }
        if (event->type == WatchEventType::kError) {
          errorStatus = parseApiStatus(event->object).value_or(ApiStatus{0, "", "no Status"});
          return false;
        }
        handler_.onEvent(*event);
        std::lock_guard<std::mutex> lock(mutex_);
        if (!event->resourceVersion.empty()) resourceVersion_ = event->resourceVersion;
        if (event->type == WatchEventType::kBookmark) {
          ++stats_.bookmarks;
        } else {
          ++stats_.events;
        }
        ++delivered;
        return true;
      });
  if (stopping_) return StreamEnd::kStopped;
  if (!outcome) {
    if (delivered > 0) backoffFailures_ = 0;
    sleepBackoff("watch from resourceVersion " + rv + " broke: " + outcome.error().message());
    return StreamEnd::kFailed;
  }
  int http = outcome->httpStatus;
  if (http == 200) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.watches;
  }
  std::optional<ApiStatus> status = errorStatus ? errorStatus : outcome->status;
  if (status && (status->isExpired() || http == 410)) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.expired;
    }
    log(LogLevel::kInfo, "watch " + description_ + ": resourceVersion " + rv + " expired (" +
                             std::to_string(status->code) + " " + status->reason + ": " +
                             status->message + "); relisting");
    return StreamEnd::kExpired;
  }
  if (!badLine.empty()) {
    sleepBackoff("bad watch event: " + badLine + "; relisting");
    return StreamEnd::kExpired;
  }
  if (status) {
    sleepBackoff("watch answered " +
                 describeHttpFailure(errorStatus && status->code ? status->code : http, *status));
    return errorStatus ? StreamEnd::kExpired : StreamEnd::kFailed;
  }
  if (delivered > 0) {
    backoffFailures_ = 0;
  } else if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
    // A server that ends every watch at once would otherwise make us spin.
    sleepBackoff("watch ended at once without events");
  }
  return StreamEnd::kClean;
}

void Watcher::run() {
  bool needList = true;
  int expiredInARow = 0;
  while (!stopping_) {
    if (needList) {
      if (!list()) continue;
      needList = false;
      backoffFailures_ = 0;
    }
    StreamEnd end = watchOnce();
    if (end == StreamEnd::kStopped) break;
    if (end == StreamEnd::kExpired) {
      needList = true;
      // A relist answers with a fresh resourceVersion; expiring again at once means the
      // server's history is shorter than our round trip: slow down.
      if (++expiredInARow > 1) sleepBackoff("resourceVersion expired again right after a list");
    } else {
      expiredInARow = 0;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = true;
  wake_.notify_all();
}

}  // namespace ambient::k8s
