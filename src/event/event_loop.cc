#include "event/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace weir::event {

EventLoop::EventLoop() : now_(Clock::now()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    throw std::runtime_error(std::string("event loop: ") + strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::watch(int fd, FdCallback cb) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  bool existed = watchers_.count(fd) > 0;
  watchers_[fd] = std::make_shared<FdCallback>(std::move(cb));
  epoll_ctl(epoll_fd_, existed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
}

void EventLoop::watch_shared_listener(int fd, FdCallback cb) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.fd = fd;
  watchers_[fd] = std::make_shared<FdCallback>(std::move(cb));
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void EventLoop::unwatch(int fd) {
  if (watchers_.erase(fd) > 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::add_timer(std::chrono::milliseconds delay, std::function<void()> cb) {
  TimerId id = next_timer_id_++;
  timers_.emplace(id, std::move(cb));
  timer_heap_.push(Timer{Clock::now() + delay, id});
  return id;
}

void EventLoop::cancel_timer(TimerId id) { timers_.erase(id); }

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

void EventLoop::stop() {
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

int EventLoop::next_timeout_ms() const {
  if (!deferred_.empty()) return 0;
  if (timer_heap_.empty()) return -1;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(timer_heap_.top().when - Clock::now());
  return wait.count() < 0 ? 0 : static_cast<int>(wait.count());
}

void EventLoop::run_timers() {
  now_ = Clock::now();
  while (!timer_heap_.empty() && timer_heap_.top().when <= now_) {
    TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    auto cb = std::move(it->second);
    timers_.erase(it);
    cb();
  }
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void EventLoop::run_deferred() {
  while (!deferred_.empty()) {
    auto work = std::move(deferred_);
    deferred_.clear();
    for (auto& fn : work) fn();
  }
}

void EventLoop::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stopping_) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, next_timeout_ms());
    if (n < 0 && errno != EINTR) break;
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
        continue;
      }
      auto it = watchers_.find(fd);
      if (it == watchers_.end()) continue;
      // Hold a reference: the callback may unwatch (and so destroy) itself.
      std::shared_ptr<FdCallback> cb = it->second;
      uint32_t mask = 0;
      if (events[i].events & (EPOLLIN | EPOLLPRI)) mask |= kReadable;
      if (events[i].events & EPOLLOUT) mask |= kWritable;
      if (events[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) mask |= kClosed | kReadable;
      (*cb)(mask);
      // Deferred work runs between events so deletes never happen under a caller.
      run_deferred();
    }
    run_posted();
    run_deferred();
    run_timers();
    run_deferred();
  }
}

}  // namespace weir::event
