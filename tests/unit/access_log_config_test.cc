// access_log on the http_connection_manager and stats_config in the bootstrap: loaded
// into config structs, or refused with file:line:column.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace weir::config {
namespace {

std::string bootstrap(const std::string& hcm_extra, const std::string& top_extra = "") {
  return top_extra + R"(
static_resources:
  listeners:
  - name: main
    address: { socket_address: { address: 127.0.0.1, port_value: 8080 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
)" + hcm_extra +
         R"(
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200 }
          http_filters:
          - name: envoy.filters.http.router
)";
}

TEST(AccessLogConfig, FileLoggerWithInlineFormat) {
  auto loaded = load_bootstrap_string(bootstrap(R"(
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /tmp/access.log
              log_format:
                text_format_source:
                  inline_string: "%REQ(:METHOD)% %RESPONSE_CODE%\n")"),
                                      "envoy.yaml", {});
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_TRUE(loaded->warnings.empty());
  const auto& logs = loaded->config.listeners[0].http.access_logs;
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].path, "/tmp/access.log");
  EXPECT_EQ(logs[0].format, "%REQ(:METHOD)% %RESPONSE_CODE%\n");
}

TEST(AccessLogConfig, OldFormatFieldAndStdoutLogger) {
  auto loaded = load_bootstrap_string(bootstrap(R"(
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/null
              format: "%PROTOCOL%\n"
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog)"),
                                      "envoy.yaml", {});
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& logs = loaded->config.listeners[0].http.access_logs;
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].format, "%PROTOCOL%\n");
  EXPECT_EQ(logs[1].path, "/dev/stdout");
  EXPECT_EQ(logs[1].format, "");  // Envoy's default format
}

TEST(AccessLogConfig, UnknownOperatorFailsWithLocation) {
  auto loaded = load_bootstrap_string(bootstrap(R"(
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/null
              format: "%NOPE%")"),
                                      "envoy.yaml", {});
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().rfind("envoy.yaml:18:23: ", 0), 0u) << loaded.error();
  EXPECT_NE(loaded.error().find("%NOPE%"), std::string::npos) << loaded.error();
}

TEST(AccessLogConfig, FilterIsWarnedAsUnimplemented) {
  auto loaded = load_bootstrap_string(bootstrap(R"(
          access_log:
          - name: envoy.access_loggers.file
            filter: { status_code_filter: { comparison: { op: GE, value: { default_value: 400 } } } }
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/null)"),
                                      "envoy.yaml", {});
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_NE(loaded->warnings[0].find("\"filter\""), std::string::npos) << loaded->warnings[0];
}

TEST(StatsConfig, TagSpecifiers) {
  auto loaded = load_bootstrap_string(bootstrap("", R"(
stats_config:
  use_all_default_tags: false
  stats_tags:
  - tag_name: code
    regex: "^metrics_filter\\.responses(\\.code\\.(\\d+))$"
  - tag_name: fleet
    fixed_value: blue
  - tag_name: envoy.cluster_name
)"),
                                      "envoy.yaml", {});
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& stats = loaded->config.stats_config;
  EXPECT_FALSE(stats.use_all_default_tags);
  ASSERT_EQ(stats.stats_tags.size(), 3u);
  EXPECT_EQ(stats.stats_tags[0].regex, R"(^metrics_filter\.responses(\.code\.(\d+))$)");
  EXPECT_EQ(stats.stats_tags[1].fixed_value, "blue");
  EXPECT_EQ(stats.stats_tags[2].regex, "");
}

TEST(StatsConfig, BadRegexFailsWithLocation) {
  auto loaded = load_bootstrap_string(bootstrap("", R"(
stats_config:
  stats_tags:
  - tag_name: code
    regex: "(unclosed"
)"),
                                      "envoy.yaml", {});
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().rfind("envoy.yaml:5:12:", 0), 0u) << loaded.error();
}

TEST(StatsConfig, CustomTagWithoutRegexIsRefused) {
  auto loaded = load_bootstrap_string(bootstrap("", R"(
stats_config:
  stats_tags:
  - tag_name: mine
)"),
                                      "envoy.yaml", {});
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("regex"), std::string::npos) << loaded.error();
}

}  // namespace
}  // namespace weir::config
