// Listeners whose filter chain is network Wasm filters and a tcp_proxy
// (envoy.filters.network.tcp_proxy, envoy.filters.network.wasm).
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace weir::config {
namespace {

LoadOptions no_code_check() {
  LoadOptions options;
  options.check_code_files = false;
  return options;
}

// A tcp_proxy listener; `filters` go before the tcp_proxy, `tcp_extra` into it.
std::string tcp_config(const std::string& filters = "", const std::string& tcp_extra = "",
                       const std::string& cluster = "echo") {
  return R"(static_resources:
  listeners:
  - name: tcp
    address: {socket_address: {address: 127.0.0.1, port_value: 9000}}
    filter_chains:
    - filters:
)" + filters +
         R"(      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: echo_tcp
          cluster: )" +
         cluster + "\n" + tcp_extra + R"(  clusters:
  - name: echo
    connect_timeout: 1s
    load_assignment:
      cluster_name: echo
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9001}}}}]}]
)";
}

const std::string kWasm = R"(      - name: envoy.filters.network.wasm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm
          config:
            name: counter
            root_id: counter
            configuration: {"@type": type.googleapis.com/google.protobuf.StringValue, value: count}
            vm_config: {runtime: envoy.wasm.runtime.v8, code: {local: {filename: /x.wasm}}}
)";

std::string error_of(const std::string& yaml) {
  auto outcome = load_bootstrap_string(yaml, "tcp.yaml", no_code_check());
  EXPECT_FALSE(outcome.ok()) << "loaded but should not have";
  return outcome.ok() ? "" : outcome.error();
}

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\"\n  lacks \"" << part << "\"";
}

TEST(TcpProxyConfigTest, FieldsAndNetworkWasmFiltersLoad) {
  auto outcome = load_bootstrap_string(
      tcp_config(kWasm + kWasm,
                 "          idle_timeout: 2.5s\n"
                 "          access_log:\n"
                 "          - name: envoy.access_loggers.stdout\n"
                 "            typed_config: {\"@type\": type.googleapis.com/"
                 "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}\n"),
      "tcp.yaml", no_code_check());
  ASSERT_TRUE(outcome.ok()) << outcome.error();
  const ListenerConfig& listener = outcome->config.listeners.at(0);
  ASSERT_TRUE(listener.tcp_proxy.has_value());
  EXPECT_EQ(listener.tcp_proxy->stat_prefix, "echo_tcp");
  EXPECT_EQ(listener.tcp_proxy->cluster, "echo");
  EXPECT_EQ(listener.tcp_proxy->idle_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(listener.tcp_proxy->access_logs.size(), 1u);
  ASSERT_EQ(listener.network_wasm_filters.size(), 2u);
  EXPECT_EQ(listener.network_wasm_filters[0].name, "counter");
  EXPECT_EQ(listener.network_wasm_filters[0].plugin_configuration, "count");
  EXPECT_TRUE(outcome->warnings.empty());
}

TEST(TcpProxyConfigTest, DefaultsAreEnvoys) {
  auto outcome = load_bootstrap_string(tcp_config(), "tcp.yaml", no_code_check());
  ASSERT_TRUE(outcome.ok()) << outcome.error();
  const TcpProxyConfig& tcp = *outcome->config.listeners.at(0).tcp_proxy;
  EXPECT_EQ(tcp.idle_timeout, std::chrono::hours(1));
  EXPECT_TRUE(outcome->config.listeners.at(0).network_wasm_filters.empty());
}

TEST(TcpProxyConfigTest, MistakesAreLocated) {
  EXPECT_TRUE(Contains(error_of(tcp_config("", "", "nowhere")),
                       "tcp.yaml:9:11: tcp_proxy to unknown cluster \"nowhere\""));
  // A network Wasm filter cannot end the chain; tcp_proxy must be last.
  std::string wasm_last = tcp_config(kWasm);
  const size_t at = wasm_last.find("      - name: envoy.filters.network.tcp_proxy");
  const std::string tcp_block = wasm_last.substr(at, wasm_last.find("  clusters:") - at);
  wasm_last.erase(at, tcp_block.size());
  std::string swapped = wasm_last;
  swapped.insert(swapped.find(kWasm), tcp_block);
  EXPECT_TRUE(
      Contains(error_of(wasm_last), "envoy.filters.network.wasm cannot end a filter chain"));
  EXPECT_TRUE(Contains(error_of(swapped), "a terminal network filter must be the last"));
  EXPECT_TRUE(Contains(error_of(tcp_config("", "          stat_prefixx: x\n")), "stat_prefixx"));
}

TEST(TcpProxyConfigTest, WhatWeirCannotDoSafelyIsRefusedTheRestWarned) {
  EXPECT_TRUE(
      Contains(error_of(tcp_config("", "          max_downstream_connection_duration: 1s\n")),
               "max_downstream_connection_duration"));
  EXPECT_TRUE(Contains(error_of(tcp_config("", "          weighted_clusters: {clusters: []}\n")),
                       "weighted_clusters"));
  auto outcome = load_bootstrap_string(tcp_config("", "          max_connect_attempts: 3\n"),
                                       "tcp.yaml", no_code_check());
  ASSERT_TRUE(outcome.ok()) << outcome.error();
  ASSERT_EQ(outcome->warnings.size(), 1u);
  EXPECT_TRUE(Contains(outcome->warnings[0], "max_connect_attempts"));
}

TEST(TcpProxyConfigTest, NetworkWasmBeforeTheHttpConnectionManagerIsRefused) {
  const std::string yaml = R"(static_resources:
  listeners:
  - address: {socket_address: {address: 127.0.0.1, port_value: 9000}}
    filter_chains:
    - filters:
)" + kWasm + R"(      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: h
          route_config: {virtual_hosts: []}
          http_filters: [{name: envoy.filters.http.router}]
)";
  EXPECT_TRUE(Contains(error_of(yaml), "network Wasm filters run before tcp_proxy only"));
}

}  // namespace
}  // namespace weir::config
