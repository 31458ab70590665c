#pragma once
// One event loop per worker thread: epoll for file descriptors, a timer heap, and an
// eventfd so other threads can post work to it. Everything but post() and stop() runs on
// the loop's own thread.
#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
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
  class Timer;
  class ScheduledCall;

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
  // A std::function that captures more than a pointer allocates: work that recurs per
  // request uses a ScheduledCall or defer_delete instead.
  void defer(std::function<void()> fn);
  // Destroys `object` after the current callback returns (it may be the one running),
  // without allocating.
  template <typename T>
  void defer_delete(std::unique_ptr<T> object) {
    if (object) {
      deferred_deletes_.push_back({object.release(), [](void* p) { delete static_cast<T*>(p); }});
    }
  }

  // Runs until stop() is called.
  void run();
  // Runs the deferred work now (teardown, after run() returned).
  void run_deferred();
  // Thread-safe.
  void stop();

  // The time when the current iteration's events came in (read once per iteration, as
  // nginx does): what timers and per-request timestamps use.
  Clock::time_point now() const { return now_; }
  // Wall-clock time of the same moment (read at most once per iteration, when asked).
  std::chrono::system_clock::time_point system_now();

 private:
  friend class Timer;
  friend class ScheduledCall;
  void update_now();
  void run_timers();
  void run_owned_timers();
  // The owned timers' binary min-heap (by deadline, then arming order).
  bool timer_before(const Timer* a, const Timer* b) const;
  void heap_place(size_t index, Timer* timer);
  void heap_sift_up(size_t index);
  void heap_sift_down(size_t index);
  void heap_remove(Timer* timer);
  void run_posted();
  int next_timeout_ms() const;
  void wake();
  bool add_watch(int fd, uint32_t epoll_events, FdCallback cb, bool shared_listener);
  void compact_timer_heap();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  Clock::time_point now_;
  std::chrono::system_clock::time_point system_now_;
  bool system_now_valid_ = false;
  std::unordered_map<int, std::shared_ptr<FdCallback>> watchers_;
  // Watches the kernel refused, until their owners hear of it (kWatchFailed).
  std::unordered_map<int, std::shared_ptr<FdCallback>> failed_watches_;

  struct TimerEntry {
    Clock::time_point when;
    TimerId id;
    bool operator>(const TimerEntry& o) const {
      return when > o.when || (when == o.when && id > o.id);
    }
  };
  // A min-heap (std::push_heap with std::greater) over a vector, so that cancelled
  // entries can be dropped in one pass.
  std::vector<TimerEntry> timer_heap_;
  std::unordered_map<TimerId, std::function<void()>> timers_;
  TimerId next_timer_id_ = 1;

  std::vector<Timer*> owned_timers_;  // armed Timer objects, a heap
  uint64_t next_arm_sequence_ = 1;

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> deferred_;
  std::vector<ScheduledCall*> scheduled_calls_;  // null where cancelled
  struct DeferredDelete {
    void* object;
    void (*destroy)(void*);
  };
  std::vector<DeferredDelete> deferred_deletes_;
};

// A timer its owner keeps (one per purpose per connection or stream): arming, re-arming
// and disarming it allocate nothing and touch no hash table, unlike add_timer/cancel_timer.
// Deadlines count from EventLoop::now().
class EventLoop::Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> on_fire);
  ~Timer();  // disarms
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Fires once, `delay` after now(); re-arming an armed timer moves its deadline.
  void arm(std::chrono::milliseconds delay);
  void disarm();
  bool armed() const { return heap_index_ != kNotArmed; }

 private:
  friend class EventLoop;
  static constexpr size_t kNotArmed = SIZE_MAX;
  EventLoop& loop_;
  std::function<void()> on_fire_;
  Clock::time_point when_{};
  uint64_t sequence_ = 0;
  size_t heap_index_ = kNotArmed;
};

// Work its owner schedules again and again to run after the current callback (like
// defer()), without allocating each time. Scheduling a scheduled call is a no-op; its
// destructor cancels it.
class EventLoop::ScheduledCall {
 public:
  ScheduledCall(EventLoop& loop, std::function<void()> fn);
  ~ScheduledCall();
  ScheduledCall(const ScheduledCall&) = delete;
  ScheduledCall& operator=(const ScheduledCall&) = delete;

  void schedule();
  void cancel();
  bool scheduled() const { return slot_ != kNotScheduled; }

 private:
  friend class EventLoop;
  static constexpr size_t kNotScheduled = SIZE_MAX;
  EventLoop& loop_;
  std::function<void()> fn_;
  size_t slot_ = kNotScheduled;  // index in loop_.scheduled_calls_
};

}  // namespace weir::event
