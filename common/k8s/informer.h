// A typed informer: a Watcher feeding an ObjectStore<T> (Namespace, Pod, Service,
// EndpointSlice, AuthorizationPolicy or PeerAuthentication), with a callback per change and
// thread-safe reads. Objects that fail to parse are logged (kind, namespace/name, field) and left
// out. Touches the network (via Watcher).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>

#include "common/k8s/object_store.h"
#include "common/k8s/objects.h"
#include "common/k8s/watcher.h"

namespace ambient::k8s {

template <class T>
constexpr const ResourceType& resourceTypeOf();
template <>
constexpr const ResourceType& resourceTypeOf<Namespace>() {
  return kNamespaces;
}
template <>
constexpr const ResourceType& resourceTypeOf<Pod>() {
  return kPods;
}
template <>
constexpr const ResourceType& resourceTypeOf<Service>() {
  return kServices;
}
template <>
constexpr const ResourceType& resourceTypeOf<EndpointSlice>() {
  return kEndpointSlices;
}

template <>
constexpr const ResourceType& resourceTypeOf<AuthorizationPolicy>() {
  return kAuthorizationPolicies;
}
template <>
constexpr const ResourceType& resourceTypeOf<PeerAuthentication>() {
  return kPeerAuthentications;
}

template <class T>
class Informer : private WatchHandler {
 public:
  // Called on the informer's thread after the store changed, without the store's lock held
  // (the callback may read the informer). After a relist it gets one call per difference.
  using Callback = std::function<void(const Change<T>&)>;

  Informer(ClusterConfig config, ListOptions listOptions, Callback callback, LogSink log,
           ClientOptions clientOptions = {}, WatchOptions watchOptions = {})
      : Informer(std::move(config), resourceTypeOf<T>(), std::move(listOptions),
                 std::move(callback), std::move(log), std::move(clientOptions), watchOptions) {}
  // Of another version of T's resource (a CRD served as v1beta1 only).
  Informer(ClusterConfig config, const ResourceType& type, ListOptions listOptions,
           Callback callback, LogSink log, ClientOptions clientOptions = {},
           WatchOptions watchOptions = {})
      : log_(log),
        callback_(std::move(callback)),
        watcher_(std::move(config), std::move(clientOptions), type, std::move(listOptions),
                 watchOptions, *this, log) {}
  ~Informer() override { stop(); }

  Status start() { return watcher_.start(); }
  void stop() { watcher_.stop(); }
  // True once the first list is in the store and its callbacks have run.
  bool synced() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return listed_;
  }
  // Waits until synced(); false on timeout.
  bool waitForSync(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return listed_; });
  }

  std::vector<T> list() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return store_.list();
  }
  // By "namespace/name" ("name" for namespaces).
  std::optional<T> get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const T* found = store_.find(key);
    return found ? std::optional<T>(*found) : std::nullopt;
  }
  std::string resourceVersion() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return store_.resourceVersion();
  }
  WatcherStats stats() const { return watcher_.stats(); }

 private:
  void onList(const std::vector<nlohmann::json>& items, const std::string& rv) override {
    std::vector<T> parsed;
    parsed.reserve(items.size());
    for (const auto& item : items) {
      auto object = ObjectTraits<T>::parse(item);
      if (object) {
        parsed.push_back(std::move(*object));
      } else {
        report(object.error());
      }
    }
    std::vector<Change<T>> changes;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      changes = store_.replace(std::move(parsed), rv);
    }
    if (callback_) {
      for (const auto& change : changes) callback_(change);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      listed_ = true;
    }
    cv_.notify_all();
  }

  void onEvent(const WatchEvent& event) override {
    if (event.type == WatchEventType::kBookmark) {
      std::lock_guard<std::mutex> lock(mutex_);
      store_.setResourceVersion(event.resourceVersion);
      return;
    }
    auto object = ObjectTraits<T>::parse(event.object);
    if (!object) {
      report(object.error());
      std::lock_guard<std::mutex> lock(mutex_);
      store_.setResourceVersion(event.resourceVersion);
      return;
    }
    std::optional<Change<T>> change;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      change = store_.apply(event.type, std::move(*object));
    }
    if (change && callback_) callback_(*change);
  }

  void report(const Error& error) {
    if (log_) {
      log_(LogLevel::kWarn, "ignoring object: " + error.message(),
           {{"resource", watcher_.description()}});
    }
  }

  LogSink log_;
  Callback callback_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  ObjectStore<T> store_;
  bool listed_ = false;
  Watcher watcher_;  // last: its thread stops before the store goes away
};

}  // namespace ambient::k8s
