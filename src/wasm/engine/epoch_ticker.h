#pragma once
// The clock behind call deadlines: one thread that advances the engine's epoch at a fixed
// period. Generated code compares the epoch with its store's deadline at function entries
// and loop back-edges, so the request path reads no clock and takes no lock; a call that
// runs past its deadline traps at its next check. The thread starts with the first
// deadline (fit): a proxy without plugins has no thread waking it 100 times a second.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace weir::wasm {

class EpochTicker {
 public:
  // Will call `tick` every `max_period` (or less, see fit) from a thread that takes no
  // process signals, once the first deadline is fitted.
  EpochTicker(std::function<void()> tick, std::chrono::milliseconds max_period);
  ~EpochTicker();
  EpochTicker(const EpochTicker&) = delete;
  EpochTicker& operator=(const EpochTicker&) = delete;

  std::chrono::milliseconds period() const { return std::chrono::milliseconds(period_ms_.load()); }
  // Shortens the period (never below 1 ms) so that `deadline` is kept within a quarter of
  // itself: a call is then stopped after at most deadline + 2 periods. Calls already
  // running keep the tick count they were given, so they may stop a little early.
  // Starts the thread on first use; safe from any thread.
  void fit(std::chrono::milliseconds deadline);
  // Ticks to allow so that a call is stopped no sooner than `deadline` after it starts,
  // and at most two periods later (the first tick may come at once).
  uint64_t ticks_for(std::chrono::milliseconds deadline) const;

 private:
  void run();
  void start();

  std::function<void()> tick_;
  std::atomic<int64_t> period_ms_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool replan_ = false;  // the period changed
  std::once_flag started_;
  std::thread thread_;
};

}  // namespace weir::wasm
