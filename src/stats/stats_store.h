#pragma once
// Process-wide counters, gauges and histograms. Looking a stat up by name takes a lock
// and belongs at set-up time; the returned references stay valid for the store's life,
// and updating through them is lock-free, so the request path never locks.
//
// Counters and gauges are single relaxed atomics shared by every worker (as in Envoy):
// one uncontended-most-of-the-time fetch_add per update. Histograms are sharded: each
// thread records into its own cache-line-aligned shard, and readers merge the shards at
// render time (see docs/metrics.md for the measurement behind this split).
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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

// Bucket counts of a histogram at one moment (merged over shards), and the statistics
// computed from them.
struct HistogramData {
  // Per bucket (not cumulative): index i counts values <= kBounds[i] and above the
  // previous bound; the last index counts values above every bound.
  std::vector<uint64_t> buckets;
  uint64_t sum = 0;
  uint64_t count() const;
  std::vector<uint64_t> cumulative() const;
  // Estimated quantile q in [0,1], interpolating inside buckets; NaN when empty.
  double quantile(double q) const;
  HistogramData minus(const HistogramData& earlier) const;
};

// Fixed buckets (Envoy's defaults: 0.5 … 3,600,000), an exact sum and count.
class Histogram {
 public:
  static constexpr std::array<double, 19> kBounds = {
      0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
      2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};
  static constexpr size_t kShards = 8;

  void record(uint64_t v);
  // Everything recorded since start-up.
  HistogramData cumulative() const;
  // What was recorded between the last two flush_interval() calls (Envoy's "interval").
  HistogramData interval() const;
  // Starts a new interval; called on the main thread every stats flush period.
  void flush_interval();

  uint64_t count() const { return cumulative().count(); }
  uint64_t sum() const { return cumulative().sum; }
  std::vector<uint64_t> cumulative_buckets() const { return cumulative().cumulative(); }
  double quantile(double q) const { return cumulative().quantile(q); }
  bool used() const { return count() > 0; }

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets{};
    std::atomic<uint64_t> sum{0};
  };
  std::array<Shard, kShards> shards_;
  mutable std::mutex interval_mu_;  // main thread vs admin renders; never the request path
  HistogramData at_last_flush_;
  HistogramData last_interval_;
};

enum class StatType { Counter, Gauge, Histogram };

struct StatSnapshot {
  std::string name;
  StatType type;
  int64_t value = 0;  // counters and gauges
  bool used = false;
  bool plugin_defined = false;  // defined by a Wasm plugin (proxy_define_metric)
  const Histogram* histogram = nullptr;
};

class StatsStore {
 public:
  Counter& counter(std::string_view name);
  Gauge& gauge(std::string_view name);
  Histogram& histogram(std::string_view name);
  // Marks `name` as a plugin's own metric: Prometheus output then keeps it free of the
  // envoy_ prefix, as Envoy does for plugin metrics.
  void mark_plugin_defined(std::string_view name);
  // A Wasm plugin's metric (proxy_define_metric): found or created, and marked
  // plugin-defined, under one lock. nullptr when `name` is taken by one of weir's own
  // stats or by a plugin metric of another type (one name is one stat), or when it is new
  // and plugins have defined kMaxPluginStats stats already.
  static constexpr size_t kMaxPluginStats = 50000;
  Counter* plugin_counter(std::string_view name);
  Gauge* plugin_gauge(std::string_view name);
  Histogram* plugin_histogram(std::string_view name);
  // Every stat, sorted by name.
  std::vector<StatSnapshot> snapshot() const;
  // Ends the current histogram interval (Envoy's stats flush).
  void flush_histogram_intervals();

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
  std::map<std::string, std::unique_ptr<Gauge>, std::less<>> gauges_;
  std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms_;
  std::set<std::string, std::less<>> plugin_defined_;

  template <typename T>
  T* plugin_stat(std::map<std::string, std::unique_ptr<T>, std::less<>>& mine,
                 std::string_view name);
};

}  // namespace weir::stats
