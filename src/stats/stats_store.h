#pragma once
// Process-wide counters, gauges and histograms. Looking a stat up by name takes a lock
// and belongs at set-up time; the returned references stay valid for the store's life,
// and updating through them is lock-free (relaxed atomics), so the request path never
// locks.
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace weir::stats {

class Counter {
 public:
  void inc(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
    used_.store(true, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }
  bool used() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
  std::atomic<bool> used_{false};
};

class Gauge {
 public:
  void set(int64_t v) {
    value_.store(v, std::memory_order_relaxed);
    used_.store(true, std::memory_order_relaxed);
  }
  void add(int64_t n) {
    value_.fetch_add(n, std::memory_order_relaxed);
    used_.store(true, std::memory_order_relaxed);
  }
  void sub(int64_t n) { add(-n); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }
  bool used() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
  std::atomic<bool> used_{false};
};

// Fixed buckets (Envoy's defaults: 0.5 … 3,600,000), an exact sum and count.
class Histogram {
 public:
  static constexpr std::array<double, 19> kBounds = {
      0.5,  1,     5,     10,    25,     50,     100,    250,     500,    1000,
      2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};
  void record(uint64_t v);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  // Cumulative count of values <= kBounds[i]; index kBounds.size() is +Inf.
  std::vector<uint64_t> cumulative_buckets() const;
  // Estimated quantile q in [0,1] by interpolating within buckets; NaN when empty.
  double quantile(double q) const;
  bool used() const { return count() > 0; }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
};

enum class StatType { Counter, Gauge, Histogram };

struct StatSnapshot {
  std::string name;
  StatType type;
  int64_t value = 0;  // counters and gauges
  bool used = false;
  const Histogram* histogram = nullptr;
};

class StatsStore {
 public:
  Counter& counter(std::string_view name);
  Gauge& gauge(std::string_view name);
  Histogram& histogram(std::string_view name);
  // Every stat, sorted by name.
  std::vector<StatSnapshot> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
  std::map<std::string, std::unique_ptr<Gauge>, std::less<>> gauges_;
  std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms_;
};

}  // namespace weir::stats
