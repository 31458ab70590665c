#include "event/event_loop.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace weir::event {

namespace {

// Cancelled entries may stay in the heap up to this many more than the live timers.
constexpr size_t kTimerHeapSlack = 64;

}  // namespace

EventLoop::EventLoop() : now_(Clock::now()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    const std::string why = strerror(errno);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    throw std::runtime_error("event loop: " + why);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const std::string why = strerror(errno);
    close(wake_fd_);
    close(epoll_fd_);
    throw std::runtime_error("event loop: cannot watch its wake-up fd: " + why);
  }
}

EventLoop::~EventLoop() {
  // Owners outlive nothing here: leave their objects consistent if they are destroyed later.
  for (Timer* timer : owned_timers_) timer->heap_index_ = Timer::kNotArmed;
  for (ScheduledCall* call : scheduled_calls_) {
    if (call) call->slot_ = ScheduledCall::kNotScheduled;
  }
  for (const DeferredDelete& d : deferred_deletes_) d.destroy(d.object);
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::update_now() {
  now_ = Clock::now();
  system_now_valid_ = false;
}

std::chrono::system_clock::time_point EventLoop::system_now() {
  if (!system_now_valid_) {
    system_now_ = std::chrono::system_clock::now();
    system_now_valid_ = true;
  }
  return system_now_;
}

// ---------------------------------------------------------------- owned timers

EventLoop::Timer::Timer(EventLoop& loop, std::function<void()> on_fire)
    : loop_(loop), on_fire_(std::move(on_fire)) {}

EventLoop::Timer::~Timer() { disarm(); }

void EventLoop::Timer::arm(std::chrono::milliseconds delay) {
  when_ = loop_.now_ + delay;
  sequence_ = loop_.next_arm_sequence_++;
  if (armed()) {
    // Usually later than before (activity pushes a deadline back): sift down, else up.
    loop_.heap_sift_down(heap_index_);
    loop_.heap_sift_up(heap_index_);
    return;
  }
  heap_index_ = loop_.owned_timers_.size();
  loop_.owned_timers_.push_back(this);
  loop_.heap_sift_up(heap_index_);
}

void EventLoop::Timer::disarm() {
  if (armed()) loop_.heap_remove(this);
}

bool EventLoop::timer_before(const Timer* a, const Timer* b) const {
  return a->when_ < b->when_ || (a->when_ == b->when_ && a->sequence_ < b->sequence_);
}

void EventLoop::heap_place(size_t index, Timer* timer) {
  owned_timers_[index] = timer;
  timer->heap_index_ = index;
}

void EventLoop::heap_sift_up(size_t index) {
  Timer* timer = owned_timers_[index];
  while (index > 0) {
    const size_t parent = (index - 1) / 2;
    if (!timer_before(timer, owned_timers_[parent])) break;
    heap_place(index, owned_timers_[parent]);
    index = parent;
  }
  heap_place(index, timer);
}

void EventLoop::heap_sift_down(size_t index) {
  Timer* timer = owned_timers_[index];
  const size_t n = owned_timers_.size();
  while (true) {
    size_t child = 2 * index + 1;
    if (child >= n) break;
    if (child + 1 < n && timer_before(owned_timers_[child + 1], owned_timers_[child])) ++child;
    if (!timer_before(owned_timers_[child], timer)) break;
    heap_place(index, owned_timers_[child]);
    index = child;
  }
  heap_place(index, timer);
}

void EventLoop::heap_remove(Timer* timer) {
  const size_t index = timer->heap_index_;
  timer->heap_index_ = Timer::kNotArmed;
  Timer* last = owned_timers_.back();
  owned_timers_.pop_back();
  if (last == timer) return;
  heap_place(index, last);
  heap_sift_down(index);
  heap_sift_up(last->heap_index_);
}

void EventLoop::run_owned_timers() {
  while (!owned_timers_.empty() && owned_timers_.front()->when_ <= now_) {
    Timer* timer = owned_timers_.front();
    heap_remove(timer);
    // A copy: the callback may destroy or re-arm its own timer.
    std::function<void()> fire = timer->on_fire_;
    fire();
  }
}

// ---------------------------------------------------------------- scheduled calls

EventLoop::ScheduledCall::ScheduledCall(EventLoop& loop, std::function<void()> fn)
    : loop_(loop), fn_(std::move(fn)) {}

EventLoop::ScheduledCall::~ScheduledCall() { cancel(); }

void EventLoop::ScheduledCall::schedule() {
  if (scheduled()) return;
  slot_ = loop_.scheduled_calls_.size();
  loop_.scheduled_calls_.push_back(this);
}

void EventLoop::ScheduledCall::cancel() {
  if (!scheduled()) return;
  loop_.scheduled_calls_[slot_] = nullptr;
  slot_ = kNotScheduled;
}

bool EventLoop::add_watch(int fd, uint32_t epoll_events, FdCallback cb, bool shared_listener) {
  epoll_event ev{};
  ev.events = epoll_events;
  ev.data.fd = fd;
  const bool existed = watchers_.count(fd) > 0;
  failed_watches_.erase(fd);
  auto callback = std::make_shared<FdCallback>(std::move(cb));
  watchers_[fd] = callback;
  // EPOLLEXCLUSIVE cannot be modified: a listener is always removed and added again. A
  // stale registration (the fd was closed and its number reused without unwatch) makes
  // MOD fail with ENOENT and ADD with EEXIST: each falls back to the other.
  int rc;
  if (existed && !shared_listener) {
    rc = epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    if (rc != 0 && errno == ENOENT) rc = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  } else {
    if (existed) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    rc = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0 && errno == EEXIST && !shared_listener) {
      rc = epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    }
  }
  if (rc == 0) return true;
  const int error = errno;
  spdlog::error("event loop: cannot watch fd {}: {}", fd, strerror(error));
  watchers_.erase(fd);
  // Told after the caller's current work, like any other event, so that owners need no
  // special path in their constructors; an unwatch() before then (the owner went away)
  // cancels it.
  failed_watches_[fd] = callback;
  defer([this, fd, callback] {
    auto it = failed_watches_.find(fd);
    if (it == failed_watches_.end() || it->second != callback) return;
    failed_watches_.erase(it);
    (*callback)(kWatchFailed);
  });
  return false;
}

bool EventLoop::watch(int fd, FdCallback cb) {
  return add_watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, std::move(cb), false);
}

bool EventLoop::watch_shared_listener(int fd, FdCallback cb) {
  return add_watch(fd, EPOLLIN | EPOLLEXCLUSIVE, std::move(cb), true);
}

void EventLoop::unwatch(int fd) {
  failed_watches_.erase(fd);
  if (watchers_.erase(fd) == 0) return;
  // ENOENT/EBADF: the fd was closed first, which already removed it from the epoll set.
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT && errno != EBADF) {
    spdlog::error("event loop: cannot stop watching fd {}: {}", fd, strerror(errno));
  }
}

EventLoop::TimerId EventLoop::add_timer(std::chrono::milliseconds delay, std::function<void()> cb) {
  TimerId id = next_timer_id_++;
  timers_.emplace(id, std::move(cb));
  timer_heap_.push_back(TimerEntry{Clock::now() + delay, id});
  std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>());
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  if (timers_.erase(id) == 0) return;
  if (timer_heap_.size() > 2 * timers_.size() + kTimerHeapSlack) compact_timer_heap();
}

void EventLoop::compact_timer_heap() {
  std::erase_if(timer_heap_,
                [this](const TimerEntry& timer) { return !timers_.contains(timer.id); });
  std::make_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>());
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  wake();
}

void EventLoop::defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

void EventLoop::stop() {
  stopping_ = true;
  wake();
}

void EventLoop::wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  while (write(wake_fd_, &one, sizeof one) < 0) {
    if (errno == EINTR) continue;
    if (errno != EAGAIN) spdlog::error("event loop: cannot wake the loop: {}", strerror(errno));
    break;
  }
}

int EventLoop::next_timeout_ms() const {
  if (!deferred_.empty() || !scheduled_calls_.empty() || !deferred_deletes_.empty()) return 0;
  if (timer_heap_.empty() && owned_timers_.empty()) return -1;
  Clock::time_point first = Clock::time_point::max();
  if (!timer_heap_.empty()) first = timer_heap_.front().when;
  if (!owned_timers_.empty()) first = std::min(first, owned_timers_.front()->when_);
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(first - Clock::now());
  return wait.count() < 0 ? 0 : static_cast<int>(wait.count());
}

// now() is the time the iteration's events came in: timers due by then fire.
void EventLoop::run_timers() {
  run_owned_timers();
  while (!timer_heap_.empty() && timer_heap_.front().when <= now_) {
    TimerId id = timer_heap_.front().id;
    std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>());
    timer_heap_.pop_back();
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
  while (!deferred_.empty() || !scheduled_calls_.empty() || !deferred_deletes_.empty()) {
    if (!deferred_.empty()) {
      std::vector<std::function<void()>> work;
      work.swap(deferred_);
      for (auto& fn : work) fn();
      work.clear();
      if (deferred_.empty()) deferred_.swap(work);  // keeps the capacity for next time
    }
    // By index: calls run here may schedule more (appended) or cancel pending ones.
    for (size_t i = 0; i < scheduled_calls_.size(); ++i) {
      ScheduledCall* call = scheduled_calls_[i];
      if (!call) continue;
      scheduled_calls_[i] = nullptr;
      call->slot_ = ScheduledCall::kNotScheduled;
      call->fn_();
    }
    scheduled_calls_.clear();
    if (!deferred_deletes_.empty()) {
      std::vector<DeferredDelete> doomed;
      doomed.swap(deferred_deletes_);
      for (const DeferredDelete& d : doomed) d.destroy(d.object);
      doomed.clear();
      if (deferred_deletes_.empty()) deferred_deletes_.swap(doomed);
    }
  }
}

void EventLoop::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  update_now();  // the loop may have been built a while before it runs
  while (!stopping_) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, next_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) continue;
      // EBADF, EFAULT, EINVAL: the epoll instance itself is unusable. Carrying on would
      // leave this loop's connections hanging and a worker silently gone.
      spdlog::critical("event loop: epoll_wait failed: {}; aborting", strerror(errno));
      std::abort();
    }
    update_now();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t v;
        // EAGAIN only: another event already drained the counter.
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
