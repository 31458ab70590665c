#include "wasm/engine/epoch_ticker.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

namespace weir::wasm {

EpochTicker::EpochTicker(std::function<void()> tick, std::chrono::milliseconds max_period)
    : tick_(std::move(tick)), period_ms_(std::max<int64_t>(1, max_period.count())) {}

void EpochTicker::start() {
  std::call_once(started_, [this] {
    // The server reads SIGTERM/SIGINT from a signalfd: a thread that did not block them
    // would take them with the default action (the process dies without draining).
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    thread_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  });
}

EpochTicker::~EpochTicker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EpochTicker::fit(std::chrono::milliseconds deadline) {
  start();
  const int64_t wanted = std::max<int64_t>(1, deadline.count() / 4);
  int64_t current = period_ms_.load();
  bool shortened = false;
  while (wanted < current && !(shortened = period_ms_.compare_exchange_weak(current, wanted))) {
  }
  if (shortened) {
    // The ticker may be asleep for a whole old period: have it start the new one now.
    std::lock_guard lock(mutex_);
    replan_ = true;
    wake_.notify_all();
  }
}

uint64_t EpochTicker::ticks_for(std::chrono::milliseconds deadline) const {
  const int64_t period = period_ms_.load(std::memory_order_relaxed);
  return static_cast<uint64_t>((std::max<int64_t>(deadline.count(), 1) + period - 1) / period) + 1;
}

void EpochTicker::run() {
  pthread_setname_np(pthread_self(), "wasm-epoch");
  std::unique_lock lock(mutex_);
  auto next = std::chrono::steady_clock::now() + period();
  while (!stop_) {
    if (wake_.wait_until(lock, next, [this] { return stop_ || replan_; })) {
      if (stop_) break;
      replan_ = false;
      next = std::chrono::steady_clock::now() + period();
      continue;
    }
    tick_();
    // Each tick at least a period after the previous one, even after a late wake-up (a
    // loaded machine): catching up would bunch ticks and stop a call before its deadline.
    next = std::chrono::steady_clock::now() + period();
  }
}

}  // namespace weir::wasm
