// epoll loop implementation. Touches the kernel.
#include "ztunnel/sys/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace zt {

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  ambient::UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return fail(ErrorCode::kIo, "epoll_create1", errno);
  ambient::UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) return fail(ErrorCode::kIo, "eventfd", errno);
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(ep), std::move(wake)));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &loop->wakeWatch_;
  if (epoll_ctl(loop->epfd_.get(), EPOLL_CTL_ADD, loop->wakeFd_.get(), &ev) < 0)
    return fail(ErrorCode::kIo, "epoll add eventfd", errno);
  return loop;
}

EventLoop::EventLoop(ambient::UniqueFd epfd, ambient::UniqueFd wakeFd)
    : epfd_(std::move(epfd)), wakeFd_(std::move(wakeFd)) {}

// The graveyard goes first: retired handlers may still call remove() on the loop.
EventLoop::~EventLoop() {
  graveyard_.clear();
}

Status EventLoop::add(int fd, uint32_t events, Watch* watch) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watch;
  if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
    return fail(ErrorCode::kIo, "epoll add", errno);
  return {};
}

Status EventLoop::modify(int fd, uint32_t events, Watch* watch) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watch;
  if (epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) < 0)
    return fail(ErrorCode::kIo, "epoll mod", errno);
  return {};
}

void EventLoop::remove(int fd) {
  epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  ssize_t ignored = ::write(wakeFd_.get(), &one, sizeof(one));
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

void EventLoop::retire(std::unique_ptr<EventHandler> h) {
  graveyard_.push_back(std::move(h));
}

void EventLoop::stop() {
  post([this] { stopping_ = true; });
}

void EventLoop::runTasks() {
  uint64_t n;
  ssize_t ignored = ::read(wakeFd_.get(), &n, sizeof(n));
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
    int n = epoll_wait(epfd_.get(), events, kMaxEvents, nextTimeoutMs());
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      auto* w = static_cast<Watch*>(events[i].data.ptr);
      if (w == &wakeWatch_)
        runTasks();
      else
        w->handler->onEvents(w->tag, events[i].events);
    }
    runTimers();
    graveyard_.clear();
  }
}

}  // namespace zt
