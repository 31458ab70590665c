// The stats store's bound on plugin-defined metrics.
#include "stats/stats_store.h"

#include <gtest/gtest.h>

#include <string>

namespace weir::stats {
namespace {

TEST(StatsStoreTest, PluginMetricsAreBoundedProcessWide) {
  // Found by the host-call fuzzer: each new VM (FAIL_RELOAD makes them) could define
  // another 10,000 names, and the store keeps every name for good.
  StatsStore store;
  for (size_t i = 0; i < StatsStore::kMaxPluginStats; ++i) {
    ASSERT_NE(store.plugin_counter("plugin_metric_" + std::to_string(i)), nullptr) << i;
  }
  EXPECT_EQ(store.plugin_counter("one_too_many"), nullptr);
  EXPECT_EQ(store.plugin_gauge("one_too_many_gauge"), nullptr);
  // Names defined before are still found (a reloaded VM redefines its own).
  Counter* again = store.plugin_counter("plugin_metric_7");
  ASSERT_NE(again, nullptr);
  again->inc();
  EXPECT_EQ(store.plugin_counter("plugin_metric_7")->value(), 1u);
  // weir's own stats are not bounded by it.
  store.counter("server.own").inc();
  EXPECT_EQ(store.snapshot().size(), StatsStore::kMaxPluginStats + 1);
}

}  // namespace
}  // namespace weir::stats
