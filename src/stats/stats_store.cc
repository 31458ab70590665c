#include "stats/stats_store.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace weir::stats {

namespace {

// Each thread sticks to one shard, handed out round-robin on its first record.
size_t this_thread_shard() {
  static std::atomic<size_t> next{0};
  thread_local size_t shard = next.fetch_add(1, std::memory_order_relaxed) % Histogram::kShards;
  return shard;
}

}  // namespace

uint64_t HistogramData::count() const {
  uint64_t total = 0;
  for (uint64_t b : buckets) total += b;
  return total;
}

std::vector<uint64_t> HistogramData::cumulative() const {
  std::vector<uint64_t> out(buckets.size());
  uint64_t running = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    running += buckets[i];
    out[i] = running;
  }
  return out;
}

double HistogramData::quantile(double q) const {
  const auto& bounds = Histogram::kBounds;
  auto cum = cumulative();
  uint64_t total = cum.empty() ? 0 : cum.back();
  if (total == 0) return std::numeric_limits<double>::quiet_NaN();
  double rank = q * static_cast<double>(total);
  for (size_t i = 0; i < cum.size(); ++i) {
    if (static_cast<double>(cum[i]) >= rank && cum[i] > 0) {
      double lo = i == 0 ? 0.0 : bounds[i - 1];
      double hi = i < bounds.size() ? bounds[i] : bounds.back();
      uint64_t below = i == 0 ? 0 : cum[i - 1];
      uint64_t in_bucket = cum[i] - below;
      if (in_bucket == 0) return lo;
      double frac = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return lo + (hi - lo) * std::clamp(frac, 0.0, 1.0);
    }
  }
  return bounds.back();
}

HistogramData HistogramData::minus(const HistogramData& earlier) const {
  HistogramData out = *this;
  for (size_t i = 0; i < out.buckets.size() && i < earlier.buckets.size(); ++i) {
    out.buckets[i] -= earlier.buckets[i];
  }
  out.sum -= earlier.sum;
  return out;
}

void Histogram::record(uint64_t v) {
  Shard& shard = shards_[this_thread_shard()];
  auto it = std::lower_bound(kBounds.begin(), kBounds.end(), static_cast<double>(v));
  shard.buckets[static_cast<size_t>(it - kBounds.begin())].fetch_add(1, std::memory_order_relaxed);
  shard.sum.fetch_add(v, std::memory_order_relaxed);
}

HistogramData Histogram::cumulative() const {
  HistogramData out;
  out.buckets.assign(kBounds.size() + 1, 0);
  for (const Shard& shard : shards_) {
    for (size_t i = 0; i < shard.buckets.size(); ++i) {
      out.buckets[i] += shard.buckets[i].load(std::memory_order_relaxed);
    }
    out.sum += shard.sum.load(std::memory_order_relaxed);
  }
  return out;
}

HistogramData Histogram::interval() const {
  std::lock_guard<std::mutex> lock(interval_mu_);
  if (last_interval_.buckets.empty()) {
    HistogramData empty;
    empty.buckets.assign(kBounds.size() + 1, 0);
    return empty;
  }
  return last_interval_;
}

void Histogram::flush_interval() {
  HistogramData now = cumulative();
  std::lock_guard<std::mutex> lock(interval_mu_);
  last_interval_ = at_last_flush_.buckets.empty() ? now : now.minus(at_last_flush_);
  at_last_flush_ = std::move(now);
}

template <typename T>
static T& find_or_create(std::map<std::string, std::unique_ptr<T>, std::less<>>& m,
                         std::string_view name) {
  auto it = m.find(name);
  if (it != m.end()) return *it->second;
  auto [ins, _] = m.emplace(std::string(name), std::make_unique<T>());
  return *ins->second;
}

Counter& StatsStore::counter(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return find_or_create(counters_, name);
}

Gauge& StatsStore::gauge(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return find_or_create(gauges_, name);
}

Histogram& StatsStore::histogram(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return find_or_create(histograms_, name);
}

void StatsStore::mark_plugin_defined(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  plugin_defined_.emplace(name);
}

template <typename T>
T* StatsStore::plugin_stat(std::map<std::string, std::unique_ptr<T>, std::less<>>& mine,
                           std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto taken = [&](const auto& m) { return m.find(name) != m.end(); };
  const bool exists = taken(mine);
  if (exists && !plugin_defined_.contains(name)) return nullptr;  // one of weir's own
  if (!exists && (taken(counters_) || taken(gauges_) || taken(histograms_))) {
    return nullptr;  // another type (weir's own, or another plugin's)
  }
  // Plugin stats stay for good, and every new VM (a FAIL_RELOAD one too) may define new
  // names: the process-wide bound keeps a plugin from growing the store without end.
  if (!exists && plugin_defined_.size() >= kMaxPluginStats) return nullptr;
  T& stat = find_or_create(mine, name);
  if (!exists) plugin_defined_.emplace(name);
  return &stat;
}

Counter* StatsStore::plugin_counter(std::string_view name) { return plugin_stat(counters_, name); }
Gauge* StatsStore::plugin_gauge(std::string_view name) { return plugin_stat(gauges_, name); }
Histogram* StatsStore::plugin_histogram(std::string_view name) {
  return plugin_stat(histograms_, name);
}

std::vector<StatSnapshot> StatsStore::snapshot() const {
  std::vector<StatSnapshot> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto from_plugin = [&](const std::string& name) { return plugin_defined_.contains(name); };
    for (const auto& [name, c] : counters_) {
      out.push_back({name, StatType::Counter, static_cast<int64_t>(c->value()), c->used(),
                     from_plugin(name), nullptr});
    }
    for (const auto& [name, g] : gauges_) {
      out.push_back({name, StatType::Gauge, g->value(), g->used(), from_plugin(name), nullptr});
    }
    for (const auto& [name, h] : histograms_) {
      out.push_back({name, StatType::Histogram, 0, h->used(), from_plugin(name), h.get()});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const StatSnapshot& a, const StatSnapshot& b) { return a.name < b.name; });
  return out;
}

void StatsStore::flush_histogram_intervals() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, h] : histograms_) h->flush_interval();
}

}  // namespace weir::stats
