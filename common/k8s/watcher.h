// One list+watch loop per resource on its own thread: list, watch from the list's
// resourceVersion with bookmarks, re-watch from the last resourceVersion when a stream ends,
// relist on 410 Expired, reconnect with exponential backoff and jitter on errors. Hands raw
// objects to a WatchHandler (Informer<T> parses and stores them). Touches the network.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/k8s/api_client.h"
#include "common/k8s/api_paths.h"
#include "common/k8s/log_sink.h"

namespace ambient::k8s {

struct WatchOptions {
  int watchTimeoutSeconds = 300;  // asked of the server per watch request (timeoutSeconds)
  std::chrono::milliseconds idleTimeout{0};  // silence that breaks a watch; 0: timeout + 30 s
  std::chrono::milliseconds backoffInitial{250};
  std::chrono::milliseconds backoffMax{10000};
};

// Called on the watcher's thread, one call at a time.
class WatchHandler {
 public:
  virtual ~WatchHandler() = default;
  // A full list (after start, a 410 or an ERROR event): the handler replaces its state.
  virtual void onList(const std::vector<nlohmann::json>& items,
                      const std::string& resourceVersion) = 0;
  // ADDED, MODIFIED, DELETED or BOOKMARK.
  virtual void onEvent(const WatchEvent& event) = 0;
};

struct WatcherStats {
  int lists = 0;    // successful lists
  int watches = 0;  // watch requests answered 200
  int expired = 0;  // 410s seen (each followed by a relist)
  int errors = 0;   // failed requests and broken streams
  int events = 0;   // ADDED/MODIFIED/DELETED delivered
  int bookmarks = 0;
};

class Watcher {
 public:
  Watcher(ClusterConfig config, ClientOptions clientOptions, ResourceType type,
          ListOptions listOptions, WatchOptions watchOptions, WatchHandler& handler, LogSink log);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Creates the HTTP client (errors: bad URL or TLS material) and starts the thread.
  Status start();
  // Returns promptly: aborts the request in flight and joins the thread.
  void stop();
  // True once the first list has been handed to the handler.
  bool synced() const { return synced_; }
  std::string resourceVersion() const;
  WatcherStats stats() const;
  const std::string& description() const { return description_; }

 private:
  enum class StreamEnd { kClean, kExpired, kFailed, kStopped };
  void run();
  bool list();
  StreamEnd watchOnce();
  void sleepBackoff(const std::string& why);
  void log(LogLevel level, const std::string& message);

  ClusterConfig config_;
  ClientOptions clientOptions_;
  ResourceType type_;
  ListOptions listOptions_;
  WatchOptions watchOptions_;
  WatchHandler& handler_;
  LogSink log_;
  std::string description_;

  std::unique_ptr<ApiClient> client_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  std::atomic<bool> synced_{false};
  mutable std::mutex mutex_;  // guards resourceVersion_, stats_ and the sleep
  std::condition_variable wake_;
  std::string resourceVersion_;
  WatcherStats stats_;
  int backoffFailures_ = 0;
};

}  // namespace ambient::k8s
