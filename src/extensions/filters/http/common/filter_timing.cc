#include "extensions/filters/http/common/filter_timing.h"

#include <chrono>
#include <thread>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace weir::extensions {

namespace {

uint64_t monotonic_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

double measure_ticks_per_us() {
#if defined(__x86_64__)
  // 5 ms against the monotonic clock: a rate within a fraction of a percent, once.
  const uint64_t ns0 = monotonic_ns();
  const uint64_t t0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const uint64_t ns1 = monotonic_ns();
  const uint64_t t1 = __rdtsc();
  if (t1 > t0 && ns1 > ns0) {
    return static_cast<double>(t1 - t0) * 1000.0 / static_cast<double>(ns1 - ns0);
  }
  return 1000.0;  // no usable counter: a guess of 1 GHz rather than nothing
#else
  return 1000.0;  // nanoseconds
#endif
}

}  // namespace

uint64_t filter_clock_ticks() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return monotonic_ns();
#endif
}

double filter_clock_ticks_per_us() {
  static const double rate = measure_ticks_per_us();
  return rate;
}

}  // namespace weir::extensions
