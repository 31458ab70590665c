#pragma once
// One event loop per worker thread: epoll for file descriptors, a timer heap, and an
// eventfd so other threads can post work to it. Everything but post() and stop() runs on
// the loop's own thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace weir::event {

using Clock = std::chrono::steady_clock;

// kWatchFailed: the kernel refused to watch the fd (epoll_ctl failed, e.g. ENOMEM or
// ENOSPC past max_user_watches). Delivered once, soon after watch() returned; the owner
// closes the fd, as no other event will ever come for it.
enum Events : uint32_t { kReadable = 1, kWritable = 2, kClosed = 4, kWatchFailed = 8 };

class EventLoop {
 public:
  using FdCallback = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` (edge-triggered) for readability and writability; the callback gets a
  // mask of Events. Replaces any earlier watch on the same fd. Returns false (logged, and
  // kWatchFailed is delivered) when the kernel refuses.
  bool watch(int fd, FdCallback cb);
  // Watches a listening socket shared by every worker's loop: level-triggered, and
  // EPOLLEXCLUSIVE so one new connection wakes one worker, not all of them.
  bool watch_shared_listener(int fd, FdCallback cb);
  void unwatch(int fd);

  TimerId add_timer(std::chrono::milliseconds delay, std::function<void()> cb);
  // The timer leaves the heap too (lazily: the heap is rebuilt once cancelled entries
  // outnumber live ones), so cancelling never makes it grow.
  void cancel_timer(TimerId id);
  size_t live_timers() const { return timers_.size(); }
  size_t timer_heap_size() const { return timer_heap_.size(); }

  // Thread-safe: runs `fn` on the loop thread soon.
  void post(std::function<void()> fn);
  // Runs `fn` after the current callback returns (on this thread): for deferred deletes.
  void defer(std::function<void()> fn);

  // Runs until stop() is called.
  void run();
  // Runs the deferred work now (teardown, after run() returned).
  void run_deferred();
  // Thread-safe.
  void stop();

  Clock::time_point now() const { return now_; }

 private:
  void run_timers();
  void run_posted();
  int next_timeout_ms() const;
  void wake();
  bool add_watch(int fd, uint32_t epoll_events, FdCallback cb, bool shared_listener);
  void compact_timer_heap();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  Clock::time_point now_;
  std::unordered_map<int, std::shared_ptr<FdCallback>> watchers_;
  // Watches the kernel refused, until their owners hear of it (kWatchFailed).
  std::unordered_map<int, std::shared_ptr<FdCallback>> failed_watches_;

  struct Timer {
    Clock::time_point when;
    TimerId id;
    bool operator>(const Timer& o) const { return when > o.when || (when == o.when && id > o.id); }
  };
  // A min-heap (std::push_heap with std::greater) over a vector, so that cancelled
  // entries can be dropped in one pass.
  std::vector<Timer> timer_heap_;
  std::unordered_map<TimerId, std::function<void()>> timers_;
  TimerId next_timer_id_ = 1;

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> deferred_;
};

}  // namespace weir::event
