// The bootstrap loader: Envoy's v3 YAML in, config structs or one located error out.
// Files live in testdata/config/; minimal.yaml is the base the bad_*.yaml files break.
#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/base64.h"
#include "config/duration.h"
#include "config/yaml_to_json.h"

namespace weir::config {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

// gmock is not part of the build, so two small matchers of our own.
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\"\n  lacks \"" << part << "\"";
}
::testing::AssertionResult StartsWith(const std::string& text, const std::string& prefix) {
  if (text.starts_with(prefix)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not start with \"" << prefix << "\"";
}

const std::string kRouteZeroPath =
    "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config."
    "virtual_hosts[0].routes[0]";
const std::string kManagerPath =
    "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";

std::string testdata(const std::string& name) {
  return std::string(WEIR_TEST_DATA_DIR) + "/config/" + name;
}

std::string read_testdata(const std::string& name) {
  std::ifstream file(testdata(name));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

LoadOptions without_code_file_check() {
  LoadOptions options;
  options.check_code_files = false;
  return options;
}

// Loads a file expected to be refused; returns the error with the directory stripped.
std::string load_error(const std::string& name, const LoadOptions& options = {}) {
  Result<LoadOutcome> outcome = load_bootstrap_file(testdata(name), options);
  EXPECT_FALSE(outcome.ok()) << name << " loaded but should not have";
  if (outcome.ok()) return "";
  std::string message = outcome.error();
  const std::string directory = testdata("");
  if (message.starts_with(directory)) message.erase(0, directory.size());
  return message;
}

LoadOutcome load_ok(const std::string& name, const LoadOptions& options = {}) {
  Result<LoadOutcome> outcome = load_bootstrap_file(testdata(name), options);
  EXPECT_TRUE(outcome.ok()) << outcome.error();
  return outcome.ok() ? std::move(outcome.value()) : LoadOutcome{};
}

// --- The seed config --------------------------------------------------------------------

TEST(ConfigLoaderTest, SeedConfigLoadsWithTheRightValues) {
  const LoadOutcome outcome = load_ok("seed-envoy.yaml", without_code_file_check());
  const BootstrapConfig& config = outcome.config;
  EXPECT_EQ(outcome.warnings, Strings{});
  EXPECT_EQ(config.source_file, testdata("seed-envoy.yaml"));

  ASSERT_TRUE(config.admin.has_value());
  EXPECT_EQ(config.admin->address.address, "0.0.0.0");
  EXPECT_EQ(config.admin->address.port, 9901);
  EXPECT_EQ(config.admin->access_log_path, "/dev/null");

  ASSERT_EQ(config.listeners.size(), 2u);
  const ListenerConfig& ingress = config.listeners[0];
  EXPECT_EQ(ingress.name, "ingress");
  EXPECT_EQ(ingress.address.address, "0.0.0.0");
  EXPECT_EQ(ingress.address.port, 8080);
  EXPECT_EQ(ingress.traffic_direction, TrafficDirection::Inbound);
  EXPECT_EQ(ingress.location.line, 10);
  EXPECT_EQ(ingress.location.column, 7);
  EXPECT_EQ(ingress.location.yaml_path, "static_resources.listeners[0]");
  EXPECT_EQ(ingress.location.to_string(),
            testdata("seed-envoy.yaml") + ":10:7 (static_resources.listeners[0])");
  EXPECT_EQ(ingress.http.stat_prefix, "ingress_http");
  EXPECT_TRUE(ingress.http.generate_request_id);
  EXPECT_FALSE(ingress.http.use_remote_address);
  EXPECT_EQ(ingress.http.stream_idle_timeout, milliseconds(300000));

  const RouteConfiguration& routes = ingress.http.route_config;
  EXPECT_EQ(routes.name, "route_for_mock");
  ASSERT_EQ(routes.virtual_hosts.size(), 1u);
  EXPECT_EQ(routes.virtual_hosts[0].name, "mock");
  EXPECT_EQ(routes.virtual_hosts[0].domains, Strings{"*"});
  ASSERT_EQ(routes.virtual_hosts[0].routes.size(), 1u);
  const Route& route = routes.virtual_hosts[0].routes[0];
  EXPECT_EQ(route.match.prefix, "/");
  ASSERT_TRUE(route.route.has_value());
  EXPECT_EQ(route.route->cluster, "mock_service");
  EXPECT_EQ(route.route->timeout, milliseconds(15000));
  EXPECT_FALSE(route.direct_response.has_value());
  EXPECT_EQ(route.location.line, 29);

  ASSERT_EQ(ingress.http.http_filters.size(), 2u);
  const HttpFilterConfig& wasm = ingress.http.http_filters[0];
  EXPECT_EQ(wasm.kind, HttpFilterConfig::Kind::Wasm);
  EXPECT_EQ(wasm.name, "envoy.filters.http.wasm");
  EXPECT_EQ(wasm.location.line, 34);
  EXPECT_EQ(wasm.wasm.name, "stat_filter");
  EXPECT_EQ(wasm.wasm.root_id, "stat_filter");
  EXPECT_EQ(wasm.wasm.vm_id, "stat_filter");
  EXPECT_EQ(wasm.wasm.runtime, "envoy.wasm.runtime.v8");
  EXPECT_EQ(wasm.wasm.code_filename, "/stat_filter.wasm");
  EXPECT_EQ(wasm.wasm.code_inline, "");
  EXPECT_EQ(wasm.wasm.plugin_configuration, "");
  EXPECT_EQ(wasm.wasm.failure_policy, FailurePolicy::FailClosed);
  EXPECT_EQ(wasm.wasm.location.line, 36);
  EXPECT_EQ(wasm.wasm.location.column, 23);
  EXPECT_EQ(wasm.wasm.location.yaml_path, kManagerPath + ".http_filters[0].typed_config");
  EXPECT_EQ(ingress.http.http_filters[1].kind, HttpFilterConfig::Kind::Router);
  EXPECT_EQ(ingress.http.http_filters[1].name, "envoy.router");

  const ListenerConfig& mock = config.listeners[1];
  EXPECT_EQ(mock.name, "mock");
  EXPECT_EQ(mock.address.address, "127.0.0.1");
  EXPECT_EQ(mock.address.port, 8081);
  EXPECT_EQ(mock.traffic_direction, TrafficDirection::Unspecified);
  const Route& mock_route = mock.http.route_config.virtual_hosts.at(0).routes.at(0);
  ASSERT_TRUE(mock_route.direct_response.has_value());
  EXPECT_FALSE(mock_route.route.has_value());
  EXPECT_EQ(mock_route.direct_response->status, 200u);
  EXPECT_EQ(mock_route.direct_response->body, "hello from mock\n");

  ASSERT_EQ(config.clusters.size(), 1u);
  const ClusterConfig& cluster = config.clusters[0];
  EXPECT_EQ(cluster.name, "mock_service");
  EXPECT_EQ(cluster.type, ClusterType::Static);
  EXPECT_EQ(cluster.connect_timeout, milliseconds(250));
  EXPECT_EQ(cluster.lb_policy, LbPolicy::RoundRobin);
  EXPECT_FALSE(cluster.http2);
  ASSERT_EQ(cluster.endpoints.size(), 1u);
  EXPECT_EQ(cluster.endpoints[0].address, "127.0.0.1");
  EXPECT_EQ(cluster.endpoints[0].port, 8081);
  EXPECT_EQ(cluster.location.line, 74);
  EXPECT_TRUE(config.wasm_services.empty());
}

TEST(ConfigLoaderTest, SeedNeedsItsWasmFileUnlessTheCheckIsOff) {
  EXPECT_EQ(load_error("seed-envoy.yaml"),
            "seed-envoy.yaml:45:41: wasm module file \"/stat_filter.wasm\" does not exist (at " +
                kManagerPath +
                ".http_filters[0].typed_config.config.vm_config.code.local.filename)");

  // With the module where the config says, the default options load it.
  std::string yaml = read_testdata("seed-envoy.yaml");
  const std::string original = "filename: /stat_filter.wasm";
  yaml.replace(yaml.find(original), original.size(), "filename: " + testdata("placeholder.wasm"));
  Result<LoadOutcome> outcome = load_bootstrap_string(yaml, "seed-copy.yaml", LoadOptions{});
  ASSERT_TRUE(outcome.ok()) << outcome.error();
  EXPECT_EQ(outcome->config.listeners[0].http.http_filters[0].wasm.code_filename,
            testdata("placeholder.wasm"));
}

// --- Wasm filter forms ------------------------------------------------------------------

TEST(ConfigLoaderTest, WrappedTypedStructFormsAndConfigurationKinds) {
  setenv("WEIR_CONFIG_TEST_HOST_VAR", "from host", 1);
  unsetenv("WEIR_CONFIG_TEST_UNSET_VAR");
  const LoadOutcome outcome = load_ok("wasm_forms.yaml");
  EXPECT_EQ(outcome.warnings, Strings{});
  const auto& filters = outcome.config.listeners.at(0).http.http_filters;
  ASSERT_EQ(filters.size(), 3u);

  const HttpFilterConfig& udpa = filters[0];
  EXPECT_EQ(udpa.kind, HttpFilterConfig::Kind::Wasm);  // by type_url, whatever the name
  EXPECT_EQ(udpa.name, "udpa_wrapped");
  EXPECT_EQ(udpa.wasm.name, "udpa_plugin");
  EXPECT_EQ(udpa.wasm.root_id, "udpa_root");
  EXPECT_EQ(udpa.wasm.vm_id, "shared_vm");
  EXPECT_EQ(udpa.wasm.plugin_configuration, R"({"header": "x-udpa"})");
  EXPECT_EQ(udpa.wasm.failure_policy, FailurePolicy::FailOpen);
  EXPECT_EQ(udpa.wasm.code_inline, std::string("\0asm\1\0\0\0", 8));
  EXPECT_EQ(udpa.wasm.code_filename, "");

  const HttpFilterConfig& xds = filters[1];
  EXPECT_EQ(xds.kind, HttpFilterConfig::Kind::Wasm);
  EXPECT_EQ(xds.wasm.name, "struct_plugin");
  EXPECT_EQ(xds.wasm.root_id, "struct_root");
  EXPECT_EQ(xds.wasm.failure_policy, FailurePolicy::FailReload);
  EXPECT_EQ(xds.wasm.plugin_configuration,
            R"({"header":"x-struct","count":3,"ratio":0.5,"enabled":true,"quoted":"42",)"
            R"("nothing":null,"list":["a",1,{"k":"v\"q"}]})");
  EXPECT_EQ(xds.wasm.vm_configuration, "hello");
  EXPECT_EQ(xds.wasm.code_inline, "not really wasm");
  EXPECT_EQ(xds.wasm.environment,
            (std::map<std::string, std::string>{{"MODE", "test"},
                                                {"WEIR_CONFIG_TEST_HOST_VAR", "from host"}}));

  EXPECT_EQ(filters[2].kind, HttpFilterConfig::Kind::Router);

  ASSERT_EQ(outcome.config.wasm_services.size(), 1u);
  const WasmPluginConfig& service = outcome.config.wasm_services[0];
  EXPECT_EQ(service.name, "background");
  EXPECT_EQ(service.root_id, "background_root");
  EXPECT_EQ(service.vm_id, "background_vm");
  EXPECT_EQ(service.code_inline, "service");
  EXPECT_TRUE(service.singleton);
  EXPECT_EQ(service.location.yaml_path, "bootstrap_extensions[0].typed_config");
}

// A config built from minimal.yaml with one http filter inserted before the router.
Result<LoadOutcome> load_with_filter(const std::string& filter_yaml,
                                     const LoadOptions& options = {}) {
  std::string yaml = read_testdata("minimal.yaml");
  const std::string router = "          - name: envoy.filters.http.router\n";
  yaml.insert(yaml.find(router), filter_yaml);
  return load_bootstrap_string(yaml, "inline.yaml", options);
}

TEST(ConfigLoaderTest, DirectWasmFormWithStringValueConfiguration) {
  Result<LoadOutcome> outcome = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: r
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: |
                    {"raw": true}
                failure_policy: fail_open
                vm_config: {code: {local: {inline_string: x}}}
)");
  ASSERT_TRUE(outcome.ok()) << outcome.error();
  const WasmPluginConfig& wasm = outcome->config.listeners[0].http.http_filters.at(0).wasm;
  EXPECT_EQ(wasm.plugin_configuration, "{\"raw\": true}\n");
  EXPECT_EQ(wasm.failure_policy, FailurePolicy::FailOpen);
  EXPECT_EQ(wasm.name, "");
}

TEST(ConfigLoaderTest, WasmConfigMistakesAreLocated) {
  Result<LoadOutcome> no_code = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config: {vm_config: {vm_id: v}}
)");
  ASSERT_FALSE(no_code.ok());
  EXPECT_EQ(no_code.error(), "inline.yaml:24:35: missing required field \"code\" (at " +
                                 kManagerPath + ".http_filters[0].typed_config.config.vm_config)");

  Result<LoadOutcome> other_type = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/udpa.type.v1.TypedStruct
              type_url: type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
)");
  ASSERT_FALSE(other_type.ok());
  EXPECT_TRUE(Contains(other_type.error(),
                       "unsupported HTTP filter type "
                       "\"envoy.extensions.filters.http.lua.v3.Lua\""));

  Result<LoadOutcome> unsupported_configuration = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                configuration: {"@type": type.googleapis.com/my.Proto, value: 1}
                vm_config: {code: {local: {inline_string: x}}}
)");
  ASSERT_FALSE(unsupported_configuration.ok());
  EXPECT_TRUE(
      Contains(unsupported_configuration.error(), "unsupported configuration type \"my.Proto\""));
}

TEST(ConfigLoaderTest, WeirLimitsDefaultAndOverride) {
  Result<LoadOutcome> defaults = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config: {vm_config: {code: {local: {inline_string: x}}}}
)");
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  const WasmLimits& d = defaults->config.listeners[0].http.http_filters.at(0).wasm.limits;
  EXPECT_EQ(d.call_deadline, std::chrono::milliseconds(100));
  EXPECT_EQ(d.max_memory_bytes, 256ull << 20);

  Result<LoadOutcome> set = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                vm_config:
                  code: {local: {inline_string: x}}
                  weir_limits: {call_deadline: 0.25s, max_memory_bytes: 1048576,
                                max_outstanding_calls: 3, max_shared_queue_items: 7,
                                max_log_line_bytes: 100}
)");
  ASSERT_TRUE(set.ok()) << set.error();
  const WasmLimits& l = set->config.listeners[0].http.http_filters.at(0).wasm.limits;
  EXPECT_EQ(l.call_deadline, std::chrono::milliseconds(250));
  EXPECT_EQ(l.max_memory_bytes, 1048576u);
  EXPECT_EQ(l.max_outstanding_calls, 3u);
  EXPECT_EQ(l.max_shared_queue_items, 7u);
  EXPECT_EQ(l.max_log_line_bytes, 100u);

  Result<LoadOutcome> too_long = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                vm_config: {code: {local: {inline_string: x}}, weir_limits: {call_deadline: 3600s}}
)");
  ASSERT_FALSE(too_long.ok());
  EXPECT_TRUE(Contains(too_long.error(), "call_deadline must be between 1ms and 60s"));

  Result<LoadOutcome> unknown = load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                vm_config: {code: {local: {inline_string: x}}, weir_limits: {max_cpu: 1}}
)");
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(Contains(unknown.error(), "max_cpu")) << unknown.error();
}

// --- Leniency ---------------------------------------------------------------------------

TEST(ConfigLoaderTest, LowerCaseEnumsSingleMappingsAsListsAndDurationForms) {
  const LoadOutcome outcome = load_ok("leniency.yaml");
  EXPECT_EQ(outcome.warnings, Strings{});
  const BootstrapConfig& config = outcome.config;
  ASSERT_TRUE(config.admin.has_value());
  EXPECT_EQ(config.admin->address.address, "::1");

  ASSERT_EQ(config.listeners.size(), 1u);
  const ListenerConfig& listener = config.listeners[0];
  EXPECT_EQ(listener.location.yaml_path, "static_resources.listeners");
  EXPECT_EQ(listener.traffic_direction, TrafficDirection::Outbound);
  const HttpConnectionManagerConfig& http = listener.http;
  EXPECT_TRUE(http.use_remote_address);
  EXPECT_FALSE(http.generate_request_id);
  EXPECT_EQ(http.stream_idle_timeout, milliseconds(30500));
  EXPECT_EQ(http.request_timeout, milliseconds(1500));
  EXPECT_EQ(http.request_headers_timeout, milliseconds(1));  // rounded up, never 0 = off
  EXPECT_EQ(http.idle_timeout, milliseconds(0));
  ASSERT_EQ(http.http_filters.size(), 1u);
  EXPECT_EQ(http.http_filters[0].kind, HttpFilterConfig::Kind::Router);

  const VirtualHost& virtual_host = http.route_config.virtual_hosts.at(0);
  ASSERT_EQ(virtual_host.routes.size(), 2u);
  const Route& exact = virtual_host.routes[0];
  EXPECT_EQ(exact.match.path, "/exact");
  EXPECT_FALSE(exact.match.prefix.has_value());
  ASSERT_EQ(exact.match.headers.size(), 3u);
  EXPECT_EQ(exact.match.headers[0].name, "x-a");
  EXPECT_EQ(exact.match.headers[0].exact_match, "one");
  EXPECT_EQ(exact.match.headers[1].prefix_match, "pre");
  EXPECT_TRUE(exact.match.headers[1].invert_match);
  EXPECT_EQ(exact.match.headers[2].present_match, true);
  EXPECT_EQ(exact.route->cluster, "dns");
  EXPECT_EQ(exact.route->prefix_rewrite, "/new");
  EXPECT_EQ(exact.route->timeout, milliseconds(0));
  const Route& regex = virtual_host.routes[1];
  EXPECT_EQ(regex.match.safe_regex, "^/r.*");
  EXPECT_EQ(regex.direct_response->status, 404u);
  EXPECT_EQ(regex.direct_response->body, "nope");

  ASSERT_EQ(config.clusters.size(), 2u);
  EXPECT_EQ(config.clusters[0].type, ClusterType::StrictDns);
  EXPECT_EQ(config.clusters[0].lb_policy, LbPolicy::LeastRequest);
  ASSERT_EQ(config.clusters[0].endpoints.size(), 1u);
  EXPECT_EQ(config.clusters[0].endpoints[0].address, "backend.example");
  EXPECT_EQ(config.clusters[0].endpoints[0].port, 80);
  EXPECT_EQ(config.clusters[1].type, ClusterType::LogicalDns);
  EXPECT_EQ(config.clusters[1].lb_policy, LbPolicy::Random);
  EXPECT_EQ(config.clusters[1].connect_timeout, milliseconds(3000));
  EXPECT_TRUE(config.clusters[1].endpoints.empty());
}

TEST(DurationTest, ParsesEnvoyJsonDurations) {
  auto millis = [](std::string_view text) { return to_milliseconds(*parse_duration_text(text)); };
  EXPECT_EQ(millis("0.25s"), milliseconds(250));
  EXPECT_EQ(millis("5s"), milliseconds(5000));
  EXPECT_EQ(millis("1.5s"), milliseconds(1500));
  EXPECT_EQ(millis("0s"), milliseconds(0));
  EXPECT_EQ(millis("0.000000001s"), milliseconds(1));
  EXPECT_EQ(millis("3600s"), milliseconds(3600000));
  for (std::string_view bad : {"100ms", "5", "s", "-1s", "1.s", ".5s", "1.0000000001s", "1m", "abc",
                               "", "99999999999999999999s"}) {
    EXPECT_FALSE(parse_duration_text(bad).has_value()) << bad;
  }
}

TEST(Base64Test, DecodesStandardAndUrlSafeWithOrWithoutPadding) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8"), "hello");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_EQ(decode_base64("-_8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(decode_base64("+/8="), std::string("\xfb\xff", 2));
  EXPECT_FALSE(decode_base64("a").has_value());
  EXPECT_FALSE(decode_base64("aGVs!G8=").has_value());
}

TEST(YamlToJsonTest, TypesScalarsTheWayEnvoyDoes) {
  auto json = [](const std::string& yaml) { return yaml_to_json(YAML::Load(yaml)); };
  EXPECT_EQ(json("{a: 1, b: -2, c: 1.25, d: 1e3, e: true, f: off, g: ~, h: '', i: x}"),
            R"({"a":1,"b":-2,"c":1.25,"d":1000,"e":true,"f":false,"g":null,"h":"","i":"x"})");
  EXPECT_EQ(json("{q: \"1\", t: 'true', big: 12345678901234567890123, huge: 9007199254740993}"),
            R"({"q":"1","t":"true","big":1.2345678901234568e+22,"huge":"9007199254740993"})");
  EXPECT_EQ(json("[.inf, \"tab\\there\", \"\\u0001\", caf\u00e9, [], {}]"),
            "[\".inf\",\"tab\\there\",\"\\u0001\",\"caf\u00e9\",[],{}]");
  EXPECT_EQ(json("{z: 1, a: 2}"), R"({"z":1,"a":2})");  // document order kept
}

// --- Errors, each with its exact file:line:column and yaml path -------------------------

TEST(ConfigLoaderErrorTest, YamlSyntaxError) {
  EXPECT_TRUE(StartsWith(load_error("bad_syntax.yaml"),
                         "bad_syntax.yaml:16:15: invalid YAML: end of sequence flow not found"));
}

TEST(ConfigLoaderErrorTest, WrongType) {
  EXPECT_EQ(load_error("bad_port.yaml"),
            "bad_port.yaml:5:56: expected an integer from 1 to 65535, got \"abc\" "
            "(at static_resources.listeners[0].address.socket_address.port_value)");
}

TEST(ConfigLoaderErrorTest, MissingRequiredField) {
  EXPECT_EQ(load_error("cluster_without_name.yaml"),
            "cluster_without_name.yaml:22:5: missing required field \"name\" "
            "(at static_resources.clusters[0])");
}

TEST(ConfigLoaderErrorTest, UnknownField) {
  EXPECT_TRUE(StartsWith(load_error("unknown_field.yaml"),
                         "unknown_field.yaml:12:11: unknown field \"stat_prefixx\" in "
                         "envoy.extensions.filters.network.http_connection_manager.v3."
                         "HttpConnectionManager (weir reads: stat_prefix, codec_type,"));
  EXPECT_TRUE(Contains(load_error("unknown_field.yaml"), "(at " + kManagerPath + ".stat_prefixx)"));
}

TEST(ConfigLoaderErrorTest, UnknownFieldAllowedByOption) {
  LoadOptions options;
  options.allow_unknown_fields = true;
  const LoadOutcome outcome = load_ok("unknown_field.yaml", options);
  ASSERT_EQ(outcome.warnings.size(), 1u);
  EXPECT_TRUE(Contains(outcome.warnings[0],
                       "unknown_field.yaml:12:11: unknown field "
                       "\"stat_prefixx\""));
  EXPECT_TRUE(Contains(outcome.warnings[0], "(at " + kManagerPath + ".stat_prefixx)"));
  EXPECT_EQ(outcome.config.listeners.at(0).http.stat_prefix, "main");
}

TEST(ConfigLoaderErrorTest, RouteToUnknownCluster) {
  EXPECT_EQ(load_error("unknown_cluster.yaml"),
            "unknown_cluster.yaml:17:17: route to unknown cluster \"nowhere\" "
            "(clusters: \"backend\") (at " +
                kRouteZeroPath + ")");
}

TEST(ConfigLoaderErrorTest, UnknownHttpFilterName) {
  EXPECT_EQ(load_error("unknown_filter.yaml"),
            "unknown_filter.yaml:20:19: unknown HTTP filter \"envoy.filters.http.lua\": weir runs "
            "envoy.filters.http.wasm and envoy.filters.http.router (or envoy.router) (at " +
                kManagerPath + ".http_filters[0].name)");
}

TEST(ConfigLoaderErrorTest, BothRouteAndDirectResponse) {
  EXPECT_EQ(load_error("route_and_direct_response.yaml"),
            "route_and_direct_response.yaml:17:17: a route takes exactly one of \"route\" and "
            "\"direct_response\", not both (at " +
                kRouteZeroPath + ")");
}

TEST(ConfigLoaderErrorTest, UnreadableFile) {
  Result<LoadOutcome> outcome = load_bootstrap_file(testdata("no_such_file.yaml"), {});
  ASSERT_FALSE(outcome.ok());
  EXPECT_TRUE(Contains(outcome.error(), "no_such_file.yaml: cannot open"));
}

// Variations of minimal.yaml, each broken in one place.
std::string load_variation_error(const std::string& from, const std::string& to) {
  std::string yaml = read_testdata("minimal.yaml");
  const size_t at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return "";
  yaml.replace(at, from.size(), to);
  Result<LoadOutcome> outcome = load_bootstrap_string(yaml, "variation.yaml", {});
  EXPECT_FALSE(outcome.ok());
  return outcome.ok() ? "" : outcome.error();
}

TEST(ConfigLoaderErrorTest, CrossChecksAndValueRules) {
  // The router must end the chain.
  EXPECT_EQ(load_variation_error("          - name: envoy.filters.http.router\n",
                                 "          - name: envoy.router\n"
                                 "          - name: envoy.filters.http.wasm\n"
                                 "            typed_config: {config: {vm_config: {code: {local: "
                                 "{inline_string: x}}}}}\n"),
            "variation.yaml:21:13: the HTTP filter chain must end with the router "
            "(envoy.filters.http.router) (at " +
                kManagerPath + ".http_filters[1])");
  EXPECT_TRUE(Contains(load_variation_error("          http_filters:\n"
                                            "          - name: envoy.filters.http.router\n",
                                            "          http_filters: []\n"),
                       "must end with the router"));
  // Duplicate cluster names.
  EXPECT_TRUE(Contains(load_variation_error("  clusters:\n", "  clusters:\n  - {name: backend}\n"),
                       "variation.yaml:23:5: duplicate cluster name \"backend\" (first at "
                       "variation.yaml:22:5)"));
  // A STATIC cluster needs IP literals.
  EXPECT_EQ(load_variation_error("{address: 127.0.0.1, port_value: 10001}",
                                 "{address: localhost, port_value: 10001}"),
            "variation.yaml:30:41: a STATIC cluster's endpoints must be numeric IP addresses, got "
            "\"localhost\" (use type STRICT_DNS for host names) (at static_resources.clusters[0]"
            ".load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address."
            "address)");
  // Ports are 1-65535.
  EXPECT_TRUE(Contains(load_variation_error("port_value: 10000", "port_value: 0"),
                       "expected an integer from 1 to 65535, got \"0\""));
  // Durations are seconds with an "s".
  EXPECT_TRUE(Contains(load_variation_error("connect_timeout: 1s", "connect_timeout: 100ms"),
                       "variation.yaml:23:22: expected a duration"));
  // Enum values are checked.
  EXPECT_TRUE(
      Contains(load_variation_error("connect_timeout: 1s", "type: EDS"),
               "unsupported value \"EDS\": weir implements STATIC, STRICT_DNS, LOGICAL_DNS"));
  // Nothing to serve.
  Result<LoadOutcome> empty = load_bootstrap_string("static_resources: {}\n", "empty.yaml", {});
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(StartsWith(empty.error(), "empty.yaml:1:1: nothing to serve"));
  // Duplicate keys are refused rather than one silently winning.
  EXPECT_TRUE(
      Contains(load_variation_error("          stat_prefix: main\n",
                                    "          stat_prefix: main\n          stat_prefix: b\n"),
               "variation.yaml:12:11: duplicate field \"stat_prefix\""));
}

// Variations of minimal.yaml that load; returns the outcome.
LoadOutcome load_variation(const std::string& from, const std::string& to) {
  std::string yaml = read_testdata("minimal.yaml");
  const size_t at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) yaml.replace(at, from.size(), to);
  Result<LoadOutcome> outcome = load_bootstrap_string(yaml, "variation.yaml", {});
  EXPECT_TRUE(outcome.ok()) << outcome.error();
  return outcome.ok() ? std::move(outcome.value()) : LoadOutcome{};
}

TEST(ConfigLoaderTest, ConnectionLimitsUpgradesAndBufferLimits) {
  // Defaults, as Envoy's.
  const LoadOutcome plain = load_variation("stat_prefix: main\n", "stat_prefix: main\n");
  const HttpConnectionManagerConfig& defaults = plain.config.listeners.at(0).http;
  EXPECT_EQ(defaults.max_request_headers_kb, 60u);
  EXPECT_EQ(defaults.max_headers_count, 100u);
  EXPECT_EQ(defaults.max_requests_per_connection, 0u);
  EXPECT_EQ(defaults.request_headers_timeout, milliseconds(0));
  EXPECT_EQ(defaults.idle_timeout, milliseconds(3600000));
  EXPECT_EQ(defaults.per_connection_buffer_limit_bytes, 1024u * 1024u);
  EXPECT_TRUE(defaults.upgrade_configs.empty());
  EXPECT_EQ(plain.config.clusters.at(0).per_connection_buffer_limit_bytes, 1024u * 1024u);

  const LoadOutcome set = load_variation("          stat_prefix: main\n",
                                         "          stat_prefix: main\n"
                                         "          request_headers_timeout: 2s\n"
                                         "          max_request_headers_kb: 16\n"
                                         "          common_http_protocol_options:\n"
                                         "            idle_timeout: 30s\n"
                                         "            max_headers_count: 50\n"
                                         "            max_requests_per_connection: 7\n"
                                         "          upgrade_configs:\n"
                                         "          - upgrade_type: websocket\n"
                                         "          - {upgrade_type: h2c, enabled: false}\n");
  EXPECT_EQ(set.warnings, Strings{});
  const HttpConnectionManagerConfig& manager = set.config.listeners.at(0).http;
  EXPECT_EQ(manager.request_headers_timeout, milliseconds(2000));
  EXPECT_EQ(manager.max_request_headers_kb, 16u);
  EXPECT_EQ(manager.idle_timeout, milliseconds(30000));
  EXPECT_EQ(manager.max_headers_count, 50u);
  EXPECT_EQ(manager.max_requests_per_connection, 7u);
  ASSERT_EQ(manager.upgrade_configs.size(), 2u);
  EXPECT_EQ(manager.upgrade_configs[0].upgrade_type, "websocket");
  EXPECT_TRUE(manager.upgrade_configs[0].enabled);
  EXPECT_EQ(manager.upgrade_configs[1].upgrade_type, "h2c");
  EXPECT_FALSE(manager.upgrade_configs[1].enabled);

  const LoadOutcome route = load_variation(
      "route: {cluster: backend}",
      "route: {cluster: backend, upgrade_configs: [{upgrade_type: websocket, enabled: false}]}");
  const RouteAction& action =
      *route.config.listeners.at(0).http.route_config.virtual_hosts.at(0).routes.at(0).route;
  ASSERT_EQ(action.upgrade_configs.size(), 1u);
  EXPECT_FALSE(action.upgrade_configs[0].enabled);

  const LoadOutcome cluster =
      load_variation("    connect_timeout: 1s\n",
                     "    connect_timeout: 1s\n    per_connection_buffer_limit_bytes: 65536\n");
  EXPECT_EQ(cluster.warnings, Strings{});
  EXPECT_EQ(cluster.config.clusters.at(0).per_connection_buffer_limit_bytes, 65536u);
}

TEST(ConfigLoaderErrorTest, LimitsAndUpgradesWeirCannotHonour) {
  const std::string manager = "          stat_prefix: main\n";
  // http-parser refuses header sections over 80 KiB whatever the setting.
  EXPECT_TRUE(
      Contains(load_variation_error(manager, manager + "          max_request_headers_kb: 81\n"),
               "expected an integer from 1 to 80"));
  EXPECT_TRUE(
      Contains(load_variation_error(manager, manager + "          common_http_protocol_options:\n"
                                                       "            max_headers_count: 0\n"),
               "expected an integer from 1 to"));
  // A filter chain of its own for upgrades would run other filters than asked for.
  EXPECT_TRUE(Contains(
      load_variation_error(manager, manager +
                                        "          upgrade_configs:\n"
                                        "          - {upgrade_type: websocket, filters: []}\n"),
      "upgrade_configs[].filters (a filter chain for upgrades) is not implemented by weir"));
  EXPECT_TRUE(
      Contains(load_variation_error(manager, manager + "          upgrade_configs:\n"
                                                       "          - {upgrade_type: CONNECT}\n"),
               "CONNECT is not implemented by weir"));
  EXPECT_TRUE(Contains(
      load_variation_error(manager, manager + "          upgrade_configs:\n"
                                              "          - {upgrade_type: \"web socket\"}\n"),
      "upgrade_type must be an HTTP token"));
  EXPECT_TRUE(
      Contains(load_variation_error("route: {cluster: backend}",
                                    "route: {cluster: backend, upgrade_configs: [{upgrade_type: "
                                    "websocket, connect_config: {}}]}"),
               "connect_config: CONNECT is not implemented by weir"));
  EXPECT_TRUE(Contains(load_variation_error("    connect_timeout: 1s\n",
                                            "    connect_timeout: 1s\n"
                                            "    per_connection_buffer_limit_bytes: 0\n"),
                       "expected an integer from 1 to"));
}

// --- Warnings ---------------------------------------------------------------------------

TEST(ConfigLoaderTest, WarnsForEachKnownButUnimplementedField) {
  const LoadOutcome outcome = load_ok("unimplemented_fields.yaml");
  const std::string file = testdata("unimplemented_fields.yaml");
  auto warning = [&](const std::string& position, const std::string& field,
                     const std::string& message_type, const std::string& path) {
    return file + ":" + position + ": field \"" + field + "\" of " + message_type +
           " is not implemented by weir and is ignored (at " + path + ")";
  };
  EXPECT_EQ(
      outcome.warnings,
      (Strings{
          warning("1:1", "node", "envoy.config.bootstrap.v3.Bootstrap", "node"),
          warning("2:1", "layered_runtime", "envoy.config.bootstrap.v3.Bootstrap",
                  "layered_runtime"),
          warning("5:3", "access_log", "envoy.config.bootstrap.v3.Admin", "admin.access_log"),
          warning("21:11", "tracing",
                  "envoy.extensions.filters.network.http_connection_manager.v3."
                  "HttpConnectionManager",
                  kManagerPath + ".tracing"),
          warning("34:5", "health_checks", "envoy.config.cluster.v3.Cluster",
                  "static_resources.clusters[0].health_checks"),
          warning("35:5", "circuit_breakers", "envoy.config.cluster.v3.Cluster",
                  "static_resources.clusters[0].circuit_breakers"),
          warning("36:5", "transport_socket", "envoy.config.cluster.v3.Cluster",
                  "static_resources.clusters[0].transport_socket"),
          file + ":37:29: HTTP/2 to upstreams is not implemented yet: weir talks HTTP/1.1 to "
                 "cluster \"backend\" (at static_resources.clusters[0].http2_protocol_options)"}));
  EXPECT_TRUE(outcome.config.clusters.at(0).http2);
  // Implemented: bounds the connection's buffers and what one stream may buffer.
  EXPECT_EQ(outcome.config.listeners.at(0).http.per_connection_buffer_limit_bytes, 32768u);
}

}  // namespace
}  // namespace weir::config
