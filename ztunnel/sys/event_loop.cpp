// epoll loop implementation. Touches the kernel.
#include "ztunnel/sys/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace zt {

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return fail(ErrorCode::kIo, "epoll_create1", errno);
  int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    ::close(ep);
    return fail(ErrorCode::kIo, "eventfd", errno);
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(ep, wake));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &loop->wakeWatch_;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) < 0) return fail(ErrorCode::kIo, "epoll add eventfd", errno);
  return loop;
}

EventLoop::EventLoop(int epfd, int wakeFd) : epfd_(epfd), wakeFd_(wakeFd) {}

EventLoop::~EventLoop() {
  graveyard_.clear();
  ::close(wakeFd_);
  ::close(epfd_);
}

Status EventLoop::add(int fd, uint32_t events, Watch* watch) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watch;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) return fail(ErrorCode::kIo, "epoll add", errno);
  return {};
}

Status EventLoop::modify(int fd, uint32_t events, Watch* watch) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watch;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0) return fail(ErrorCode::kIo, "epoll mod", errno);
  return {};
}

void EventLoop::remove(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  ssize_t ignored = ::write(wakeFd_, &one, sizeof(one));
  (void)ignored;
}

uint64_t EventLoop::addTimer(std::chrono::milliseconds delay, std::function<void()> fn) {
  uint64_t id = nextTimerId_++;
  auto when = Clock::now() + delay;
  timers_.emplace(std::make_pair(when, id), std::move(fn));
  timerDeadlines_[id] = when;
  return id;
}

void EventLoop::cancelTimer(uint64_t id) {
  auto it = timerDeadlines_.find(id);
  if (it == timerDeadlines_.end()) return;
  timers_.erase({it->second, id});
  timerDeadlines_.erase(it);
}

void EventLoop::retire(std::unique_ptr<EventHandler> h) { graveyard_.push_back(std::move(h)); }

void EventLoop::stop() {
  post([this] { stopping_ = true; });
}

void EventLoop::runTasks() {
  uint64_t n;
  ssize_t ignored = ::read(wakeFd_, &n, sizeof(n));
  (void)ignored;
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

int EventLoop::nextTimeoutMs() {
  if (timers_.empty()) return -1;
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first.first -
                                                                  Clock::now());
  return d.count() < 0 ? 0 : static_cast<int>(d.count()) + 1;
}

void EventLoop::runTimers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timerDeadlines_.erase(node.key().second);
    node.mapped()();
  }
}

void EventLoop::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stopping_) {
    int n = epoll_wait(epfd_, events, kMaxEvents, nextTimeoutMs());
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      auto* w = static_cast<Watch*>(events[i].data.ptr);
      if (w == &wakeWatch_) runTasks();
      else w->handler->onEvents(w->tag, events[i].events);
    }
    runTimers();
    graveyard_.clear();
  }
}

}  // namespace zt
