// One epoll event loop per worker thread: fd watches, cross-thread tasks, timers and deferred
// deletion of closed connections. Touches the kernel (epoll, eventfd).
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/sys/unique_fd.h"
#include "ztunnel/core/error.h"

namespace zt {

// Something with fds in the loop; `tag` says which of its fds fired.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void onEvents(int tag, uint32_t events) = 0;
};

// epoll_event.data.ptr points at a Watch embedded in the handler.
struct Watch {
  EventHandler* handler = nullptr;
  int tag = 0;
};

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  static Result<std::unique_ptr<EventLoop>> create();
  ~EventLoop();

  Status add(int fd, uint32_t events, Watch* watch);
  Status modify(int fd, uint32_t events, Watch* watch);
  void remove(int fd);

  // Thread-safe: run `fn` on the loop thread.
  void post(std::function<void()> fn);
  // Loop thread only. Returns an id for cancelTimer.
  uint64_t addTimer(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancelTimer(uint64_t id);
  // Deletes `h` after the current batch of events (it may still be referenced in it).
  void retire(std::unique_ptr<EventHandler> h);

  void run();   // until stop()
  void stop();  // thread-safe

 private:
  EventLoop(ambient::UniqueFd epfd, ambient::UniqueFd wakeFd);
  void runTasks();
  int nextTimeoutMs();
  void runTimers();

  ambient::UniqueFd epfd_;
  ambient::UniqueFd wakeFd_;
  Watch wakeWatch_;
  bool stopping_ = false;
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;
  uint64_t nextTimerId_ = 1;
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> timers_;
  std::map<uint64_t, Clock::time_point> timerDeadlines_;
  std::vector<std::unique_ptr<EventHandler>> graveyard_;
};

}  // namespace zt
