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
#include <queue>
#include <unordered_map>
#include <vector>

namespace weir::event {

using Clock = std::chrono::steady_clock;

enum Events : uint32_t { kReadable = 1, kWritable = 2, kClosed = 4 };

class EventLoop {
 public:
  using FdCallback = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` (edge-triggered) for readability and writability; the callback gets a
  // mask of Events. Replaces any earlier watch on the same fd.
  void watch(int fd, FdCallback cb);
  // Watches a listening socket shared by every worker's loop: level-triggered, and
  // EPOLLEXCLUSIVE so one new connection wakes one worker, not all of them.
  void watch_shared_listener(int fd, FdCallback cb);
  void unwatch(int fd);

  TimerId add_timer(std::chrono::milliseconds delay, std::function<void()> cb);
  void cancel_timer(TimerId id);

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

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  Clock::time_point now_;
  std::unordered_map<int, std::shared_ptr<FdCallback>> watchers_;

  struct Timer {
    Clock::time_point when;
    TimerId id;
    bool operator>(const Timer& o) const { return when > o.when || (when == o.when && id > o.id); }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timer_heap_;
  std::unordered_map<TimerId, std::function<void()>> timers_;
  TimerId next_timer_id_ = 1;

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> deferred_;
};

}  // namespace weir::event
