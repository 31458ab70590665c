#include "stats/stats_render.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "stats/stats_store.h"
#include "stats/tag_extractor.h"

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
  options.filter = *Regex::compile("downstream_rq", Regex::kUnboundedProgramSize);
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

TEST(StatsRender, HistogramsSortWithTheOtherStats) {
  StatsStore store;
  store.histogram("b.time");
  store.counter("a.count").inc();
  store.gauge("c.gauge").set(1);
  EXPECT_EQ(render_text(store.snapshot(), {}),
            "a.count: 1\nb.time: No recorded values\nc.gauge: 1\n");
}

TEST(StatsRender, HistogramQuantilesGolden) {
  StatsStore store;
  auto& h = store.histogram("t");
  for (int i = 0; i < 100; ++i) h.record(7);
  // Before a stats flush the interval is empty (nan); cumulative interpolates in (5, 10].
  EXPECT_EQ(render_text(store.snapshot(), {}),
            "t: P0(nan,5) P25(nan,6.25) P50(nan,7.5) P75(nan,8.75) P90(nan,9.5) P95(nan,9.75) "
            "P99(nan,9.95) P99.5(nan,9.975) P99.9(nan,9.995) P100(nan,10)\n");
  store.flush_histogram_intervals();
  std::string text = render_text(store.snapshot(), {});
  EXPECT_NE(text.find("P50(7.5,7.5)"), std::string::npos) << text;
  // Nothing new in the next interval.
  store.flush_histogram_intervals();
  text = render_text(store.snapshot(), {});
  EXPECT_NE(text.find("P50(nan,7.5)"), std::string::npos) << text;
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.sum(), 700u);
}

TEST(StatsRender, JsonGolden) {
  StatsStore store;
  store.counter("a\"b").inc(2);
  store.gauge("g").set(5);
  EXPECT_EQ(render_json(store.snapshot(), {}),
            "{\"stats\":[{\"name\":\"a\\\"b\",\"value\":2},{\"name\":\"g\",\"value\":5}]}\n");
}

TEST(StatsRender, JsonHistogramsInEnvoyShape) {
  StatsStore store;
  store.counter("c").inc();
  store.histogram("h").record(1);
  EXPECT_EQ(
      render_json(store.snapshot(), {}),
      "{\"stats\":[{\"name\":\"c\",\"value\":1},{\"histograms\":{\"supported_quantiles\":"
      "[0,25,50,75,90,95,99,99.5,99.9,100],\"computed_quantiles\":[{\"name\":\"h\","
      "\"values\":[{\"interval\":null,\"cumulative\":0.5},{\"interval\":null,\"cumulative\":"
      "0.625},{\"interval\":null,\"cumulative\":0.75},{\"interval\":null,\"cumulative\":0.875},"
      "{\"interval\":null,\"cumulative\":0.95},{\"interval\":null,\"cumulative\":0.975},"
      "{\"interval\":null,\"cumulative\":0.995},{\"interval\":null,\"cumulative\":0.9975},"
      "{\"interval\":null,\"cumulative\":0.9995},{\"interval\":null,\"cumulative\":1}]}]}}]}\n");
}

TEST(StatsRender, PrometheusGolden) {
  StatsStore store;
  store.counter("cluster.mock_service.upstream_rq_total").inc(3);
  store.counter("cluster.other.upstream_rq_total").inc(1);
  store.counter("http.ingress.downstream_rq_2xx").inc(2);
  store.counter("listener.127.0.0.1_8080.downstream_cx_total").inc(4);
  store.gauge("server.live").set(1);
  store.counter("my_plugin.requests").inc(5);
  store.mark_plugin_defined("my_plugin.requests");
  auto& h = store.histogram("cluster.mock_service.upstream_rq_time");
  h.record(3);
  h.record(700);
  EXPECT_EQ(
      render_prometheus(store.snapshot(), {}, TagExtractor::envoy_defaults()),
      "# TYPE envoy_cluster_upstream_rq_total counter\n"
      "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"mock_service\"} 3\n"
      "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"other\"} 1\n"
      "# TYPE envoy_http_downstream_rq_xx counter\n"
      "envoy_http_downstream_rq_xx{envoy_response_code_class=\"2\","
      "envoy_http_conn_manager_prefix=\"ingress\"} 2\n"
      "# TYPE envoy_listener_downstream_cx_total counter\n"
      "envoy_listener_downstream_cx_total{envoy_listener_address=\"127.0.0.1_8080\"} 4\n"
      "# TYPE my_plugin_requests counter\n"
      "my_plugin_requests{} 5\n"
      "# TYPE envoy_server_live gauge\n"
      "envoy_server_live{} 1\n"
      "# TYPE envoy_cluster_upstream_rq_time histogram\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"0.5\"} 0\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"1\"} 0\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"5\"} 1\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"10\"} 1\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"25\"} 1\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"50\"} 1\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"100\"} 1\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"250\"} 1\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"500\"} 1\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"1000\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"2500\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"5000\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"10000\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"30000\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"60000\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"300000\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"600000\"} 2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"1800000\"} "
      "2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"3600000\"} "
      "2\n"
      "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"mock_service\",le=\"+Inf\"} 2\n"
      "envoy_cluster_upstream_rq_time_sum{envoy_cluster_name=\"mock_service\"} 703\n"
      "envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"mock_service\"} 2\n");
}

TEST(StatsRender, PrometheusSanitizesNames) {
  EXPECT_EQ(prometheus_sanitize("a.b-c/d"), "a_b_c_d");
  EXPECT_EQ(prometheus_sanitize("9lives"), "_9lives");
}

TEST(StatsRender, PrometheusCustomTagsLabelPluginMetrics) {
  std::string error;
  auto tags =
      TagExtractor::create({{"code", R"(^metrics_filter\.responses(\.code\.(\d+))$)", std::nullopt},
                            {"fleet", "", std::string("blue")}},
                           true, &error);
  ASSERT_TRUE(tags) << error;
  StatsStore store;
  store.counter("metrics_filter.responses.code.200").inc(2);
  store.counter("metrics_filter.responses.code.503").inc(1);
  store.mark_plugin_defined("metrics_filter.responses.code.200");
  store.mark_plugin_defined("metrics_filter.responses.code.503");
  EXPECT_EQ(render_prometheus(store.snapshot(), {}, *tags),
            "# TYPE metrics_filter_responses counter\n"
            "metrics_filter_responses{code=\"200\",fleet=\"blue\"} 2\n"
            "metrics_filter_responses{code=\"503\",fleet=\"blue\"} 1\n");
}

TEST(TagExtractor, EnvoyDefaultTags) {
  const auto& tags = TagExtractor::envoy_defaults();
  auto t = tags.extract("cluster.mock_service.upstream_rq_503");
  EXPECT_EQ(t.name, "cluster.upstream_rq");
  EXPECT_EQ(t.tags, (std::vector<Tag>{{"envoy.response_code", "503"},
                                      {"envoy.cluster_name", "mock_service"}}));
  t = tags.extract("http.ingress_http.downstream_cx_active");
  EXPECT_EQ(t.name, "http.downstream_cx_active");
  EXPECT_EQ(t.tags, (std::vector<Tag>{{"envoy.http_conn_manager_prefix", "ingress_http"}}));
  t = tags.extract("server.live");
  EXPECT_EQ(t.name, "server.live");
  EXPECT_TRUE(t.tags.empty());
}

TEST(TagExtractor, BadCustomRegexIsAnError) {
  std::string error;
  EXPECT_FALSE(TagExtractor::create({{"x", "(", std::nullopt}}, true, &error));
  EXPECT_NE(error.find("x"), std::string::npos);
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

TEST(StatsStore, ConcurrentHistogramRecordsAreMergedWithoutLoss) {
  StatsStore store;
  Histogram& h = store.histogram("plugin.histogram");
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {  // more threads than shards: shards are shared then
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 50000; ++i) h.record(static_cast<uint64_t>(t));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.count(), 600000u);
  EXPECT_EQ(h.sum(), 50000u * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11));
}

}  // namespace
}  // namespace weir::stats
