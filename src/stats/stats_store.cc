#include "stats/stats_store.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace weir::stats {

void Histogram::record(uint64_t v) {
  auto it = std::lower_bound(kBounds.begin(), kBounds.end(), static_cast<double>(v));
  buckets_[static_cast<size_t>(it - kBounds.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_buckets() const {
  std::vector<uint64_t> out(buckets_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::quantile(double q) const {
  auto cum = cumulative_buckets();
  uint64_t total = cum.back();
  if (total == 0) return std::numeric_limits<double>::quiet_NaN();
  double rank = q * static_cast<double>(total);
  for (size_t i = 0; i < cum.size(); ++i) {
    if (static_cast<double>(cum[i]) >= rank) {
      double lo = i == 0 ? 0.0 : kBounds[i - 1];
      double hi = i < kBounds.size() ? kBounds[i] : kBounds.back();
      uint64_t below = i == 0 ? 0 : cum[i - 1];
      uint64_t in_bucket = cum[i] - below;
      if (in_bucket == 0) return lo;
      double frac = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return lo + (hi - lo) * std::clamp(frac, 0.0, 1.0);
    }
  }
  return kBounds.back();
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

std::vector<StatSnapshot> StatsStore::snapshot() const {
  std::vector<StatSnapshot> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, c] : counters_) {
      out.push_back({name, StatType::Counter, static_cast<int64_t>(c->value()), c->used(), nullptr});
    }
    for (const auto& [name, g] : gauges_) {
      out.push_back({name, StatType::Gauge, g->value(), g->used(), nullptr});
    }
    for (const auto& [name, h] : histograms_) {
      out.push_back({name, StatType::Histogram, 0, h->used(), h.get()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const StatSnapshot& a, const StatSnapshot& b) { return a.name < b.name; });
  return out;
}

}  // namespace weir::stats
