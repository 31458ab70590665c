#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "stats/stats_render.h"
#include "stats/stats_store.h"

namespace weir::stats {
namespace {

TEST(StatsRender, TextIsSortedNameColonValue) {
  StatsStore store;
  store.counter("z.last").inc(3);
  store.gauge("a.first").set(-2);
  store.counter("stat_filter.custom_metric.num_of_request");
  EXPECT_EQ(render_text(store.snapshot(), {}),
            "a.first: -2\n"
            "stat_filter.custom_metric.num_of_request: 0\n"
            "z.last: 3\n");
}

TEST(StatsRender, FilterAndUsedOnly) {
  StatsStore store;
  store.counter("http.ingress.downstream_rq_total").inc();
  store.counter("http.ingress.downstream_rq_5xx");
  store.counter("cluster.a.upstream_rq_total").inc();
  RenderOptions options;
  options.filter.emplace("downstream_rq");
  EXPECT_EQ(render_text(store.snapshot(), options),
            "http.ingress.downstream_rq_5xx: 0\nhttp.ingress.downstream_rq_total: 1\n");
  options.used_only = true;
  EXPECT_EQ(render_text(store.snapshot(), options), "http.ingress.downstream_rq_total: 1\n");
}

TEST(StatsRender, HistogramWithoutValues) {
  StatsStore store;
  store.histogram("http.ingress.downstream_rq_time");
  EXPECT_EQ(render_text(store.snapshot(), {}),
            "http.ingress.downstream_rq_time: No recorded values\n");
}

TEST(StatsRender, HistogramQuantilesInEnvoyShape) {
  StatsStore store;
  auto& h = store.histogram("t");
  for (int i = 0; i < 100; ++i) h.record(7);
  std::string text = render_text(store.snapshot(), {});
  EXPECT_EQ(text.rfind("t: P0(", 0), 0u) << text;
  for (const char* q : {"P25(", "P50(", "P75(", "P90(", "P95(", "P99(", "P99.5(", "P99.9(", "P100("}) {
    EXPECT_NE(text.find(q), std::string::npos) << q;
  }
  // Every recorded value falls in the (5, 10] bucket: quantiles stay inside it.
  EXPECT_GE(h.quantile(0.5), 5.0);
  EXPECT_LE(h.quantile(0.5), 10.0);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.sum(), 700u);
}

TEST(StatsRender, Json) {
  StatsStore store;
  store.counter("a\"b").inc(2);
  store.gauge("g").set(5);
  EXPECT_EQ(render_json(store.snapshot(), {}),
            "{\"stats\":[{\"name\":\"a\\\"b\",\"value\":2},{\"name\":\"g\",\"value\":5}]}\n");
}

TEST(StatsStore, SameNameIsOneStat) {
  StatsStore store;
  EXPECT_EQ(&store.counter("x"), &store.counter("x"));
}

TEST(StatsStore, ConcurrentIncrementsAreNotLost) {
  StatsStore store;
  Counter& c = store.counter("plugin.counter");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 100000; ++i) c.inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 800000u);
}

}  // namespace
}  // namespace weir::stats
