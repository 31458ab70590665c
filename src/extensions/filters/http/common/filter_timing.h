#pragma once
// The time a request spends inside one HTTP filter (a Wasm plugin), recorded in
// microseconds into a histogram when the stream completes.
//
// Only the stream callbacks count (headers, body, trailers, completion); work a plugin
// does on timers or HTTP call answers belongs to no single request and is not included.
// Cheap enough to stay on: the CPU's time-stamp counter (a few instructions, no clock
// call) around each callback, converted to microseconds once per request.
#include <cstdint>
#include <type_traits>

#include "stats/stats_store.h"

namespace weir::extensions {

// Ticks of a monotonic counter: the time-stamp counter on x86-64 (constant-rate on every
// CPU Linux uses it as a clock on), the monotonic clock in nanoseconds elsewhere.
uint64_t filter_clock_ticks();
// Ticks per microsecond, measured against the monotonic clock on first use (a few ms).
double filter_clock_ticks_per_us();

class FilterTimer {
 public:
  // No histogram: nothing is measured.
  explicit FilterTimer(stats::Histogram* time_us) : time_us_(time_us) {}

  // Runs one callback of the filter, adding its time to the stream's total.
  template <typename Callback>
  std::invoke_result_t<Callback> time(Callback&& callback) {
    if (!time_us_) return callback();
    const uint64_t start = filter_clock_ticks();
    if constexpr (std::is_void_v<std::invoke_result_t<Callback>>) {
      callback();
      add_since(start);
    } else {
      auto result = callback();
      add_since(start);
      return result;
    }
  }

  // The stream completed: records its total once.
  void record() {
    if (!time_us_ || recorded_) return;
    recorded_ = true;
    static const double us_per_tick = 1.0 / filter_clock_ticks_per_us();
    time_us_->record(static_cast<uint64_t>(static_cast<double>(spent_) * us_per_tick));
  }

 private:
  void add_since(uint64_t start) {
    // A thread moved between CPUs whose counters disagree would go backwards: not counted.
    const uint64_t end = filter_clock_ticks();
    if (end > start) spent_ += end - start;
  }

  stats::Histogram* time_us_;
  uint64_t spent_ = 0;
  bool recorded_ = false;
};

}  // namespace weir::extensions
