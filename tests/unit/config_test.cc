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
  EXPECT_EQ(cluster.http_protocol, weir::config::UpstreamHttpProtocol::Http1);
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

// Envoy configs name V8 (or Wasmtime): both run on weir's Wasmtime. The null VM (native
// code) and other engines are something weir cannot be: a config error naming what works.
TEST(ConfigLoaderTest, WasmRuntimeIsV8WasmtimeOrNone) {
  auto with_runtime = [](const std::string& runtime) {
    return load_with_filter(R"(
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                vm_config: {code: {local: {inline_string: x}}, runtime: ")" +
                            runtime + R"("}
)");
  };
  for (const char* accepted : {"envoy.wasm.runtime.v8", "envoy.wasm.runtime.wasmtime", ""}) {
    Result<LoadOutcome> ok = with_runtime(accepted);
    EXPECT_TRUE(ok.ok()) << accepted << ": " << ok.error();
  }
  for (const char* refused :
       {"envoy.wasm.runtime.null", "envoy.wasm.runtime.wamr", "envoy.wasm.runtime.wavm", "v8"}) {
    Result<LoadOutcome> bad = with_runtime(refused);
    ASSERT_FALSE(bad.ok()) << refused;
    EXPECT_TRUE(Contains(bad.error(), std::string("unsupported runtime '") + refused + "'"))
        << bad.error();
    EXPECT_TRUE(Contains(bad.error(), "envoy.wasm.runtime.v8 or envoy.wasm.runtime.wasmtime"))
        << bad.error();
  }
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
  EXPECT_EQ(exact.match.headers[0].kind, HeaderMatcher::Kind::String);
  EXPECT_EQ(exact.match.headers[0].string.kind, StringMatch::Kind::Exact);
  EXPECT_EQ(exact.match.headers[0].string.value, "one");
  EXPECT_EQ(exact.match.headers[1].string.kind, StringMatch::Kind::Prefix);
  EXPECT_EQ(exact.match.headers[1].string.value, "pre");
  EXPECT_TRUE(exact.match.headers[1].invert_match);
  EXPECT_EQ(exact.match.headers[2].kind, HeaderMatcher::Kind::Present);
  EXPECT_TRUE(exact.match.headers[2].present);
  EXPECT_EQ(exact.route->cluster, "dns");
  EXPECT_EQ(exact.route->prefix_rewrite, "/new");
  EXPECT_EQ(exact.route->timeout, milliseconds(0));
  const Route& regex = virtual_host.routes[1];
  ASSERT_TRUE(regex.match.safe_regex);
  EXPECT_EQ(regex.match.safe_regex->pattern(), "^/r.*");
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

// minimal.yaml with `from` replaced by `to`, loaded; fails the test if it does not load.
LoadOutcome load_variation(const std::string& from, const std::string& to,
                           const std::string& prefix = "") {
  std::string yaml = read_testdata("minimal.yaml");
  const size_t at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) yaml.replace(at, from.size(), to);
  Result<LoadOutcome> outcome = load_bootstrap_string(prefix + yaml, "variation.yaml", {});
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
  // Envoy's range.
  EXPECT_TRUE(
      Contains(load_variation_error(manager, manager + "          max_request_headers_kb: 8193\n"),
               "expected an integer from 1 to 8192"));
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

std::string load_prefixed_error(const std::string& prefix, const std::string& from = "",
                                const std::string& to = "") {
  std::string yaml = read_testdata("minimal.yaml");
  if (!from.empty()) {
    const size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) yaml.replace(at, from.size(), to);
  }
  Result<LoadOutcome> outcome = load_bootstrap_string(prefix + yaml, "variation.yaml", {});
  EXPECT_FALSE(outcome.ok());
  return outcome.ok() ? "" : outcome.error();
}

const std::string kPrefixMatch = "- match: {prefix: \"/\"}";
// Envoy's own example of a pattern over the default limit: RE2 program size 144 > 100.
const std::string kBigRegex =
    "/asdf/.*/asdf/.*/asdf/.*/asdf/.*/asdf/.*/asdf/.*/asdf/.*/asdf/.*/asdf/.*/asdf/.*";

// --- Regexes: RE2, compiled at load -----------------------------------------------------

TEST(ConfigRegexTest, RouteAndHeaderRegexesCompileAtLoad) {
  const LoadOutcome outcome = load_variation(
      kPrefixMatch,
      "- match: {safe_regex: {regex: \"/api/v[0-9]+/.*\"}, headers: [{name: x-a, "
      "safe_regex_match: {regex: \"a+\"}}, {name: x-b, string_match: {safe_regex: {regex: "
      "\"b+\"}}}]}");
  const RouteMatch& match =
      outcome.config.listeners.at(0).http.route_config.virtual_hosts.at(0).routes.at(0).match;
  ASSERT_TRUE(match.safe_regex);
  EXPECT_TRUE(match.safe_regex->full_match("/api/v2/x"));
  EXPECT_FALSE(match.safe_regex->full_match("/api/v2"));
  ASSERT_EQ(match.headers.size(), 2u);
  EXPECT_EQ(match.headers[0].string.kind, StringMatch::Kind::Regex);
  EXPECT_TRUE(match.headers[0].string.regex->full_match("aaa"));
  EXPECT_TRUE(match.headers[1].string.regex->full_match("bb"));
  EXPECT_EQ(outcome.warnings, Strings{});
}

TEST(ConfigRegexTest, InvalidPatternIsALocatedError) {
  EXPECT_EQ(load_variation_error(kPrefixMatch, "- match: {safe_regex: {regex: \"/api/(\"}}"),
            "variation.yaml:17:45: invalid regex \"/api/(\": missing ): /api/( (at " +
                kRouteZeroPath + ".match.safe_regex.regex)");
  // Lookahead and backreferences are not RE2: refused, never run by another engine.
  EXPECT_TRUE(Contains(load_variation_error(kPrefixMatch,
                                            "- match: {prefix: /, headers: [{name: x, "
                                            "safe_regex_match: {regex: \"(a)\\\\1\"}}]}"),
                       "variation.yaml:17:82: invalid regex \"(a)\\1\": invalid escape sequence"));
  EXPECT_TRUE(Contains(load_variation_error(kPrefixMatch, "- match: {safe_regex: {regex: \"\"}}"),
                       "variation.yaml:17:45: must not be empty"));
}

TEST(ConfigRegexTest, ProgramSizeOverEnvoysDefaultLimitIsAnError) {
  EXPECT_EQ(
      load_variation_error(kPrefixMatch, "- match: {safe_regex: {regex: \"" + kBigRegex + "\"}}"),
      "variation.yaml:17:45: regex \"" + kBigRegex +
          "\" compiles to an RE2 program of size 144, over the limit of 100 (runtime key "
          "re2.max_program_size.error_level): simplify the pattern or raise the limit (at " +
          kRouteZeroPath + ".match.safe_regex.regex)");
  // In header matchers too.
  EXPECT_TRUE(Contains(load_variation_error(kPrefixMatch,
                                            "- match: {prefix: /, headers: [{name: x, "
                                            "string_match: {safe_regex: {regex: \"" +
                                                kBigRegex + "\"}}}]}"),
                       "program of size 144, over the limit of 100"));
}

TEST(ConfigRegexTest, RuntimeAndGoogleRe2SetTheProgramSizeLimits) {
  const std::string big_route = "- match: {safe_regex: {regex: \"" + kBigRegex + "\"}}";
  // Raised by the runtime (nested or dotted keys, later layers win).
  LoadOutcome raised = load_variation(kPrefixMatch, big_route,
                                      "layered_runtime:\n"
                                      "  layers:\n"
                                      "  - name: a\n"
                                      "    static_layer: {re2.max_program_size.error_level: 50}\n"
                                      "  - name: b\n"
                                      "    static_layer:\n"
                                      "      re2: {max_program_size: {error_level: 144, "
                                      "warn_level: 143}}\n");
  ASSERT_EQ(raised.warnings.size(), 1u);
  EXPECT_TRUE(Contains(raised.warnings[0],
                       "variation.yaml:24:45: regex \"" + kBigRegex +
                           "\" compiles to an RE2 program of size 144, over the warning level of "
                           "143 (runtime key re2.max_program_size.warn_level)"));
  // Lowered: a pattern under Envoy's default fails.
  EXPECT_TRUE(
      Contains(load_prefixed_error("layered_runtime: {layers: [{name: a, static_layer: "
                                   "{re2.max_program_size.error_level: 5}}]}\n",
                                   kPrefixMatch, "- match: {safe_regex: {regex: \"/api/.*\"}}"),
               "compiles to an RE2 program of size 17, over the limit of 5"));
  // google_re2.max_program_size (deprecated in Envoy) sets one pattern's limit.
  load_variation(kPrefixMatch,
                 "- match: {safe_regex: {google_re2: {max_program_size: 200}, "
                 "regex: \"" +
                     kBigRegex + "\"}}");
  EXPECT_TRUE(Contains(load_variation_error(kPrefixMatch,
                                            "- match: {safe_regex: {google_re2: "
                                            "{max_program_size: 10}, regex: \"/api/.*\"}}"),
                       "program of size 17, over the limit of 10"));
  // A runtime value that is not a number is located.
  EXPECT_EQ(load_prefixed_error("layered_runtime: {layers: [{name: a, static_layer: "
                                "{re2.max_program_size.error_level: lots}}]}\n"),
            "variation.yaml:1:87: runtime key re2.max_program_size.error_level takes an integer "
            "from 0 to 4294967295, got \"lots\" (at "
            "layered_runtime.layers[0].static_layer.re2.max_program_size.error_level)");
}

TEST(ConfigRegexTest, OtherRuntimeLayersWarn) {
  LoadOutcome outcome = load_variation(
      "", "",
      "layered_runtime: {layers: [{name: admin, admin_layer: {}}, {name: d, disk_layer: "
      "{symlink_root: /srv}}]}\n");
  ASSERT_EQ(outcome.warnings.size(), 2u);
  EXPECT_TRUE(Contains(outcome.warnings[0],
                       "field \"admin_layer\" of "
                       "envoy.config.bootstrap.v3.RuntimeLayer is not "
                       "implemented by weir and is ignored"));
}

TEST(ConfigRegexTest, UnusedRuntimeKeysWarn) {
  LoadOutcome outcome =
      load_variation("", "",
                     "layered_runtime: {layers: [{name: a, static_layer: {envoy.reloadable_features"
                     ".foo: true}}]}\n");
  EXPECT_EQ(outcome.warnings,
            Strings{"variation.yaml:1:84: runtime key envoy.reloadable_features.foo is not used "
                    "by weir and has no effect (at "
                    "layered_runtime.layers[0].static_layer.envoy.reloadable_features.foo)"});
}

TEST(ConfigRegexTest, StringMatcherRules) {
  EXPECT_TRUE(Contains(
      load_variation_error(kPrefixMatch,
                           "- match: {prefix: /, headers: [{name: x, string_match: {safe_regex: "
                           "{regex: a}, ignore_case: true}}]}"),
      "ignore_case has no effect on safe_regex"));
  EXPECT_TRUE(Contains(load_variation_error(kPrefixMatch,
                                            "- match: {prefix: /, headers: [{name: x, "
                                            "string_match: {exact: a, suffix: b}}]}"),
                       "a string matcher takes exactly one of"));
  EXPECT_TRUE(Contains(load_variation_error(kPrefixMatch,
                                            "- match: {prefix: /, headers: [{name: x, "
                                            "range_match: {start: 5, end: 5}}]}"),
                       "a range match needs start < end"));
  const LoadOutcome outcome =
      load_variation(kPrefixMatch,
                     "- match: {prefix: /A, case_sensitive: false, headers: [{name: x, "
                     "range_match: {start: \"-3\", end: 7}}, {name: y, contains_match: c, "
                     "treat_missing_header_as_empty: true}, {name: z, string_match: {suffix: s, "
                     "ignore_case: true}}]}");
  const RouteMatch& match =
      outcome.config.listeners.at(0).http.route_config.virtual_hosts.at(0).routes.at(0).match;
  EXPECT_FALSE(match.case_sensitive);
  ASSERT_EQ(match.headers.size(), 3u);
  EXPECT_EQ(match.headers[0].kind, HeaderMatcher::Kind::Range);
  EXPECT_EQ(match.headers[0].range_start, -3);
  EXPECT_EQ(match.headers[0].range_end, 7);
  EXPECT_EQ(match.headers[1].string.kind, StringMatch::Kind::Contains);
  EXPECT_TRUE(match.headers[1].treat_missing_as_empty);
  EXPECT_EQ(match.headers[2].string.kind, StringMatch::Kind::Suffix);
  EXPECT_TRUE(match.headers[2].string.ignore_case);
  EXPECT_EQ(outcome.warnings, Strings{});
}

// --- Connection limits ------------------------------------------------------------------

const std::string kDownstreamConnectionsMonitor =
    "overload_manager:\n"
    "  resource_monitors:\n"
    "  - name: envoy.resource_monitors.global_downstream_max_connections\n"
    "    typed_config:\n"
    "      \"@type\": type.googleapis.com/envoy.extensions.resource_monitors."
    "downstream_connections.v3.DownstreamConnectionsConfig\n";

TEST(ConfigLimitsTest, GlobalLimitFromTheOverloadManagerOrTheRuntime) {
  LoadOutcome monitor = load_variation(
      "", "", kDownstreamConnectionsMonitor + "      max_active_downstream_connections: 5000\n");
  EXPECT_EQ(monitor.config.overload.max_active_downstream_connections, 5000u);
  EXPECT_EQ(monitor.warnings, Strings{});
  // The runtime key Envoy used before the monitor, honoured alone...
  LoadOutcome runtime =
      load_variation("", "",
                     "layered_runtime: {layers: [{name: a, static_layer: {overload: "
                     "{global_downstream_max_connections: 70}}}]}\n");
  EXPECT_EQ(runtime.config.overload.max_active_downstream_connections, 70u);
  EXPECT_EQ(runtime.warnings, Strings{});
  // ... and overridden by the monitor, with a warning.
  LoadOutcome both = load_variation("", "",
                                    "layered_runtime: {layers: [{name: a, static_layer: "
                                    "{overload.global_downstream_max_connections: 70}}]}\n" +
                                        kDownstreamConnectionsMonitor +
                                        "      max_active_downstream_connections: 9\n");
  EXPECT_EQ(both.config.overload.max_active_downstream_connections, 9u);
  ASSERT_EQ(both.warnings.size(), 1u);
  EXPECT_TRUE(Contains(both.warnings[0], "overload.global_downstream_max_connections is ignored"));
  // No limit by default.
  EXPECT_FALSE(load_variation("", "").config.overload.max_active_downstream_connections);
}

TEST(ConfigLimitsTest, OverloadManagerMistakesAndUnimplementedParts) {
  // Envoy requires the limit, greater than 0.
  EXPECT_TRUE(Contains(load_prefixed_error(kDownstreamConnectionsMonitor),
                       "variation.yaml:5:7: missing required field "
                       "\"max_active_downstream_connections\""));
  EXPECT_TRUE(Contains(load_prefixed_error(kDownstreamConnectionsMonitor +
                                           "      max_active_downstream_connections: 0\n"),
                       "variation.yaml:6:42: expected an integer from 1 to"));
  // Overload actions would shed load weir cannot shed: refused, never ignored.
  EXPECT_EQ(load_prefixed_error("overload_manager:\n"
                                "  actions:\n"
                                "  - name: envoy.overload_actions.stop_accepting_requests\n"),
            "variation.yaml:2:3: field \"actions\" of envoy.config.overload.v3.OverloadManager "
            "(overload actions (load shedding)) is not implemented by weir yet: refusing to start "
            "rather than run with less security (at overload_manager.actions)");
  // A monitor no action can use is inert: a warning.
  LoadOutcome heap = load_variation("", "",
                                    "overload_manager:\n"
                                    "  refresh_interval: 0.25s\n"
                                    "  resource_monitors:\n"
                                    "  - name: envoy.resource_monitors.fixed_heap\n"
                                    "    typed_config: {max_heap_size_bytes: 1000}\n");
  ASSERT_EQ(heap.warnings.size(), 1u);
  EXPECT_TRUE(StartsWith(heap.warnings[0],
                         "variation.yaml:4:5: resource monitor "
                         "\"envoy.resource_monitors.fixed_heap\" is not implemented by weir"));
  EXPECT_FALSE(heap.config.overload.max_active_downstream_connections);
}

TEST(ConfigLimitsTest, ListenerLimitsAndAcceptOptions) {
  LoadOutcome outcome = load_variation(
      "  - name: main\n",
      "  - name: main\n"
      "    ignore_global_conn_limit: true\n"
      "    max_connections_to_accept_per_socket_event: 8\n"
      "    tcp_backlog_size: 77\n",
      "layered_runtime: {layers: [{name: a, static_layer: "
      "{envoy.resource_limits.listener.main.connection_limit: 12, "
      "envoy.resource_limits.listener.other.connection_limit: 1}}]}\n"
      "admin: {ignore_global_conn_limit: true, address: {socket_address: {address: 127.0.0.1, "
      "port_value: 9901}}}\n");
  const ListenerConfig& listener = outcome.config.listeners.at(0);
  EXPECT_EQ(listener.connection_limit, 12u);
  EXPECT_TRUE(listener.ignore_global_conn_limit);
  EXPECT_EQ(listener.max_connections_to_accept_per_socket_event, 8u);
  EXPECT_EQ(listener.tcp_backlog_size, 77u);
  EXPECT_TRUE(outcome.config.admin->ignore_global_conn_limit);
  // A key for a listener that does not exist limits nothing: said so.
  ASSERT_EQ(outcome.warnings.size(), 1u);
  EXPECT_TRUE(Contains(outcome.warnings[0],
                       "runtime key envoy.resource_limits.listener.other.connection_limit is not "
                       "used by weir"));
  // Defaults.
  const ListenerConfig plain = load_variation("", "").config.listeners.at(0);
  EXPECT_FALSE(plain.connection_limit);
  EXPECT_FALSE(plain.ignore_global_conn_limit);
  EXPECT_EQ(plain.max_connections_to_accept_per_socket_event, 64u);
  EXPECT_FALSE(plain.tcp_backlog_size);
}

// --- Security settings never degrade to a warning ----------------------------------------

const std::string kRefusal =
    "is not implemented by weir yet: refusing to start rather than run with less security";
const std::string kListenerHead = "  - name: main\n";
const std::string kChainHead = "    - filters:\n";
const std::string kManagerHead = "          stat_prefix: main\n";
const std::string kVirtualHostHead = "            - name: all\n";
const std::string kClusterHead = "  - name: backend\n";

const std::string kDownstreamTls =
    "    - transport_socket:\n"
    "        name: envoy.transport_sockets.tls\n"
    "        typed_config:\n"
    "          \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
    "DownstreamTlsContext\n";
const std::string kInlineCertificate =
    "          common_tls_context:\n"
    "            tls_certificates:\n"
    "              - certificate_chain: {inline_string: CERT}\n"
    "                private_key: {inline_string: KEY}\n";

TEST(ConfigSecurityTest, TlsTransportSocketsLoadOrFailNeverServedAsPlaintext) {
  // A TLS context weir cannot serve as asked fails the load, at its line.
  EXPECT_EQ(load_variation_error(kChainHead, kDownstreamTls +
                                                 "          require_client_certificate: true\n"
                                                 "      filters:\n"),
            "variation.yaml:10:11: a DownstreamTlsContext needs "
            "common_tls_context.tls_certificates (at "
            "static_resources.listeners[0].filter_chains[0].transport_socket.typed_config)");
  EXPECT_TRUE(Contains(
      load_variation_error(kChainHead, kDownstreamTls +
                                           "          require_client_certificate: "
                                           "true\n" +
                                           kInlineCertificate + "      filters:\n"),
      "require_client_certificate needs common_tls_context.validation_context.trusted_ca"));
  EXPECT_TRUE(Contains(
      load_variation_error(kChainHead, kDownstreamTls + kInlineCertificate +
                                           "            validation_context: {trusted_ca: "
                                           "{inline_string: CA}, crl: {inline_string: C}}\n"
                                           "      filters:\n"),
      "field \"crl\" of envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext "
      "(TLS verification and key handling) " +
          kRefusal));
  EXPECT_TRUE(Contains(
      load_variation_error(kChainHead, kDownstreamTls + kInlineCertificate +
                                           "            tls_certificate_sds_secret_configs: "
                                           "[{name: x}]\n      filters:\n"),
      "(TLS verification and key handling) " + kRefusal));
  EXPECT_TRUE(Contains(
      load_variation_error(kChainHead,
                           "    - transport_socket: {name: envoy.transport_sockets.alts}\n"
                           "      filters:\n"),
      "transport socket \"envoy.transport_sockets.alts\" is not implemented by weir: refusing "
      "to start rather than run the listener's connections without it"));
  EXPECT_EQ(load_variation_error(kClusterHead + "    connect_timeout: 1s\n",
                                 kClusterHead + "    connect_timeout: 1s\n" +
                                     "    transport_socket: {name: envoy.transport_sockets.tls}\n"),
            "variation.yaml:24:23: a TLS transport socket needs typed_config (at "
            "static_resources.clusters[0].transport_socket)");
  // What weir implements is read.
  LoadOutcome tls = load_variation(
      kChainHead, std::string("    - filter_chain_match: {server_names: [A.Example, "
                              "\"*.b.example\"]}\n") +
                      "      " + kDownstreamTls.substr(6) +
                      "          require_client_certificate: true\n" + kInlineCertificate +
                      "            alpn_protocols: [h2, http/1.1]\n"
                      "            validation_context: {trusted_ca: {inline_string: CA}}\n"
                      "            tls_params: {tls_minimum_protocol_version: TLSv1_3, "
                      "cipher_suites: [TLS_AES_128_GCM_SHA256]}\n"
                      "      transport_socket_connect_timeout: 2s\n"
                      "      filters:\n");
  const FilterChainConfig& chain = tls.config.listeners.at(0).filter_chains.at(0);
  ASSERT_TRUE(chain.tls.has_value());
  EXPECT_EQ(chain.server_names, (Strings{"a.example", "*.b.example"}));
  EXPECT_EQ(chain.tls->common.tls_certificates.at(0).certificate_chain.bytes, "CERT");
  EXPECT_EQ(chain.tls->common.tls_certificates.at(0).private_key.bytes, "KEY");
  EXPECT_EQ(chain.tls->common.trusted_ca->bytes, "CA");
  EXPECT_EQ(chain.tls->common.alpn_protocols, (Strings{"h2", "http/1.1"}));
  EXPECT_EQ(chain.tls->common.tls_minimum_protocol_version, 0x0304);
  EXPECT_TRUE(chain.tls->require_client_certificate);
  EXPECT_EQ(chain.transport_socket_connect_timeout, std::chrono::seconds(2));
  LoadOutcome upstream = load_variation(
      kClusterHead + "    connect_timeout: 1s\n",
      kClusterHead + "    connect_timeout: 1s\n" +
          "    transport_socket:\n"
          "      name: envoy.transport_sockets.tls\n"
          "      typed_config:\n"
          "        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
          "UpstreamTlsContext\n"
          "        sni: backend.example\n"
          "        common_tls_context:\n"
          "          validation_context:\n"
          "            trusted_ca: {inline_string: CA}\n"
          "            match_typed_subject_alt_names: [{san_type: DNS, matcher: {exact: b}}]\n");
  const ClusterConfig& backend = upstream.config.clusters.at(0);
  ASSERT_TRUE(backend.tls.has_value());
  EXPECT_EQ(backend.tls->sni, "backend.example");
  EXPECT_EQ(backend.tls->common.match_typed_subject_alt_names.size(), 1u);
  // A SAN matcher without a CA would check names on a certificate nobody verified.
  EXPECT_TRUE(
      Contains(load_variation_error(kClusterHead + "    connect_timeout: 1s\n",
                                    kClusterHead + "    connect_timeout: 1s\n" +
                                        "    transport_socket: {name: envoy.transport_sockets.tls, "
                                        "typed_config: {common_tls_context: {validation_context: "
                                        "{match_typed_subject_alt_names: [{san_type: DNS, matcher: "
                                        "{exact: b}}]}}}}\n"),
               "match_typed_subject_alt_names needs trusted_ca"));
  EXPECT_TRUE(Contains(
      load_variation_error(kClusterHead + "    connect_timeout: 1s\n",
                           kClusterHead + "    connect_timeout: 1s\n" +
                               "    transport_socket_matches: [{name: tls, transport_socket: "
                               "{name: envoy.transport_sockets.tls}}]\n"),
      "variation.yaml:24:5: field \"transport_socket_matches\" of envoy.config.cluster.v3.Cluster "
      "(TLS to upstreams) " +
          kRefusal));
  EXPECT_TRUE(Contains(
      load_variation_error("static_resources:\n", "static_resources:\n  secrets: [{name: cert}]\n"),
      "(TLS secrets) " + kRefusal));
  EXPECT_TRUE(Contains(load_prefixed_error("certificate_provider_instances: {a: {name: x}}\n"),
                       "(TLS certificates) " + kRefusal));
  // raw_buffer is plaintext, which is what weir does: accepted, by name or by type.
  LoadOutcome raw = load_variation(
      kChainHead,
      "    - transport_socket: {name: envoy.transport_sockets.raw_buffer}\n      filters:\n");
  EXPECT_EQ(raw.warnings, Strings{});
  load_variation(kClusterHead + "    connect_timeout: 1s\n",
                 kClusterHead + "    connect_timeout: 1s\n" +
                     "    transport_socket: {name: any, typed_config: {\"@type\": "
                     "type.googleapis.com/"
                     "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer}}\n");
}

TEST(ConfigSecurityTest, AuthorizationFiltersAreRefused) {
  // Unknown HTTP filters (RBAC, ext_authz, jwt_authn, ...) are errors, as they have been.
  for (const std::string name : {"envoy.filters.http.rbac", "envoy.filters.http.ext_authz",
                                 "envoy.filters.http.jwt_authn", "envoy.filters.http.basic_auth"}) {
    EXPECT_TRUE(Contains(
        load_variation_error(
            "          - name: envoy.filters.http.router\n",
            "          - name: " + name + "\n          - name: envoy.filters.http.router\n"),
        "variation.yaml:20:19: unknown HTTP filter \"" + name + "\""))
        << name;
  }
  // By type too, whatever the name.
  EXPECT_TRUE(
      Contains(load_variation_error("          - name: envoy.filters.http.router\n",
                                    "          - name: my_auth\n"
                                    "            typed_config: {\"@type\": type.googleapis.com/"
                                    "envoy.extensions.filters.http.rbac.v3.RBAC}\n"
                                    "          - name: envoy.filters.http.router\n"),
               "unsupported HTTP filter type \"envoy.extensions.filters.http.rbac.v3.RBAC\""));
  // Network filters before the connection manager (RBAC, ext_authz) are refused.
  EXPECT_TRUE(Contains(
      load_variation_error(kChainHead, kChainHead + "      - name: envoy.filters.network.rbac\n"
                                                    "        typed_config: {}\n"),
      "unsupported network filter \"envoy.filters.network.rbac\""));
  // Upstream HTTP filters and cluster network filters too.
  EXPECT_TRUE(Contains(load_variation_error("          - name: envoy.filters.http.router\n",
                                            "          - name: envoy.filters.http.router\n"
                                            "            typed_config:\n"
                                            "              upstream_http_filters: [{name: x}]\n"),
                       "(upstream HTTP filters) " + kRefusal));
  EXPECT_TRUE(
      Contains(load_variation_error(kClusterHead, kClusterHead + "    filters: [{name: x}]\n"),
               "(upstream network filters) " + kRefusal));
  // A plugin's capability restrictions.
  EXPECT_TRUE(Contains(
      load_variation_error("          - name: envoy.filters.http.router\n",
                           "          - name: envoy.filters.http.wasm\n"
                           "            typed_config: {config: {capability_restriction_config: "
                           "{allowed_capabilities: {proxy_log: {}}}, vm_config: {code: {local: "
                           "{inline_string: x}}}}}\n"
                           "          - name: envoy.filters.http.router\n"),
      "(restricting the host calls a plugin may make) " + kRefusal));
}

TEST(ConfigSecurityTest, ConnectionSelectionAndListenerFiltersAreRefused) {
  // SNI, ALPN and a TLS transport_protocol need TLS; other match criteria are refused.
  EXPECT_TRUE(Contains(load_variation_error(kChainHead,
                                            "    - filter_chain_match: {server_names: "
                                            "[a.example]}\n      filters:\n"),
                       "server_names match the TLS server name (SNI): this chain has no TLS "
                       "transport_socket"));
  EXPECT_TRUE(Contains(load_variation_error(kChainHead,
                                            "    - filter_chain_match: {transport_protocol: tls}\n"
                                            "      filters:\n"),
                       "transport_protocol \"tls\" on a chain whose transport_socket is "
                       "plaintext"));
  EXPECT_TRUE(Contains(load_variation_error(kChainHead,
                                            "    - filter_chain_match: {transport_protocol: x}\n"
                                            "      filters:\n"),
                       "\"tls\" or \"raw_buffer\""));
  EXPECT_TRUE(Contains(load_variation_error(kChainHead,
                                            "    - filter_chain_match: {application_protocols: "
                                            "[h2]}\n      filters:\n"),
                       "this chain has no TLS transport_socket"));
  EXPECT_TRUE(Contains(load_variation_error(kChainHead,
                                            "    - filter_chain_match: {source_ports: [1]}\n"
                                            "      filters:\n"),
                       "(filter chain selection: weir matches server_names, transport_protocol "
                       "and application_protocols only) " +
                           kRefusal));
  EXPECT_TRUE(
      Contains(load_variation_error(kListenerHead, kListenerHead +
                                                       "    listener_filters: [{name: "
                                                       "envoy.filters.listener.proxy_protocol}]\n"),
               "unsupported listener filter \"envoy.filters.listener.proxy_protocol\""));
  EXPECT_TRUE(Contains(
      load_variation_error(kListenerHead, kListenerHead + "    filter_chain_matcher: {}\n" +
                                              "    listener_filters: [{name: x}]\n"),
      "listener_filters"));  // {} asks for nothing; the filters do
}

TEST(ConfigSecurityTest, FilterChainsShareFiltersAreAllTlsAndBoundTheHandshake) {
  const std::string tls_chain = kDownstreamTls + kInlineCertificate;
  // Two chains (the second reuses the first's filters with an alias), each replacement
  // applied to minimal.yaml.
  auto two_chains = [&](const std::string& first, const std::string& second,
                        const std::string& filters = "      filters: *f\n",
                        bool tls_inspector = false) {
    std::string yaml = read_testdata("minimal.yaml");
    if (tls_inspector) {
      yaml.insert(yaml.find(kListenerHead) + kListenerHead.size(),
                  "    listener_filters: [{name: envoy.filters.listener.tls_inspector}]\n");
    }
    yaml.replace(yaml.find(kChainHead), kChainHead.size(), first + "      filters: &f\n");
    const std::string end = "          - name: envoy.filters.http.router\n";
    yaml.insert(yaml.find(end) + end.size(), second + filters);
    Result<LoadOutcome> outcome = load_bootstrap_string(yaml, "chains.yaml", {});
    return outcome.ok() ? std::string("loaded") : outcome.error();
  };
  const std::string named =
      "    - filter_chain_match: {server_names: [b.example]}\n      " + tls_chain.substr(6);
  EXPECT_EQ(two_chains(tls_chain, named), "loaded");
  // Other filters would need a second connection manager.
  EXPECT_TRUE(
      Contains(two_chains(tls_chain, named,
                          "      filters: [{name: envoy.filters.network.http_connection_manager, "
                          "typed_config: {stat_prefix: other, route_config: {}, http_filters: "
                          "[{name: envoy.filters.http.router}]}}]\n"),
               "every filter chain must have the same filters as the first"));
  EXPECT_TRUE(Contains(two_chains(tls_chain, "    -\n"),
                       "TLS and plaintext filter chains on one listener need the listener filter "
                       "envoy.filters.listener.tls_inspector"));
  // With the inspector: a TLS chain and a plaintext one (Envoy's mixed listener); still
  // one chain per transport that matches everything.
  const std::string inspected = "      filters: *f\n";
  EXPECT_EQ(two_chains(tls_chain, "    -\n", inspected, true), "loaded");
  EXPECT_EQ(two_chains(
                "    - filter_chain_match: {transport_protocol: tls}\n      " + tls_chain.substr(6),
                "    - filter_chain_match: {transport_protocol: raw_buffer}\n", inspected, true),
            "loaded");
  EXPECT_TRUE(Contains(two_chains("    -\n", "    -\n", inspected, true),
                       "two filter chains match every connection"));
  EXPECT_TRUE(Contains(two_chains(tls_chain,
                                  "    - filter_chain_match: {transport_protocol: "
                                  "raw_buffer}\n      " +
                                      tls_chain.substr(6),
                                  inspected, true),
                       "transport_protocol \"raw_buffer\" on a chain whose transport_socket is "
                       "TLS"));
  // ALPN tells TLS chains apart, as server names do.
  const std::string h2_chain =
      "    - filter_chain_match: {application_protocols: [h2]}\n      " + tls_chain.substr(6);
  EXPECT_EQ(two_chains(tls_chain, h2_chain), "loaded");
  EXPECT_TRUE(Contains(two_chains(h2_chain,
                                  "    - filter_chain_match: {application_protocols: "
                                  "[http/1.1, h2]}\n      " +
                                      tls_chain.substr(6)),
                       "(with application protocol \"h2\")"));
  EXPECT_TRUE(Contains(two_chains(tls_chain, tls_chain),
                       "two filter chains match every connection (neither has server_names)"));
  EXPECT_TRUE(Contains(two_chains(named, named),
                       "server name \"b.example\" is matched by an earlier filter chain too"));
  EXPECT_TRUE(Contains(
      load_variation_error(kChainHead, tls_chain + "      transport_socket_connect_timeout: 0s\n"
                                                   "      filters:\n"),
      "must be greater than 0s: weir bounds every TLS handshake"));
}

TEST(ConfigSecurityTest, PathNormalizationAndHeaderSanitizingAreRefusedUnlessOff) {
  struct Case {
    std::string field;
    std::string refused_value;
    std::string harmless_value;
  };
  for (const Case& c : std::vector<Case>{
           {"normalize_path", "true", "false"},
           {"merge_slashes", "true", "false"},
           {"path_with_escaped_slashes_action", "UNESCAPE_AND_REDIRECT", "KEEP_UNCHANGED"},
           {"path_normalization_options", "{forwarding_transformation: {}}", "{}"},
       }) {
    EXPECT_TRUE(Contains(load_variation_error(kManagerHead, kManagerHead + "          " + c.field +
                                                                ": " + c.refused_value + "\n"),
                         "variation.yaml:12:11: field \"" + c.field +
                             "\" of envoy.extensions.filters.network.http_connection_manager.v3."
                             "HttpConnectionManager ("))
        << c.field;
    LoadOutcome harmless = load_variation(
        kManagerHead, kManagerHead + "          " + c.field + ": " + c.harmless_value + "\n");
    ASSERT_EQ(harmless.warnings.size(), 1u) << c.field;
    EXPECT_TRUE(Contains(harmless.warnings[0], "is ignored (its value asks for nothing)"));
  }
  EXPECT_TRUE(Contains(
      load_variation_error(kManagerHead, kManagerHead + "          common_http_protocol_options: "
                                                        "{headers_with_underscores_action: "
                                                        "REJECT_REQUEST}\n"),
      "(rejecting or dropping headers with underscores) " + kRefusal));
  EXPECT_TRUE(Contains(load_variation_error("          route_config:\n",
                                            "          route_config:\n"
                                            "            ignore_path_parameters_in_path_matching: "
                                            "true\n"),
                       "(path normalization before routing) " + kRefusal));
}

TEST(ConfigSecurityTest, HeaderMutationsAreRefusedEverywhere) {
  const std::string refusal =
      "(header mutations (security headers, stripping spoofable headers)) " + kRefusal;
  for (const std::string field : {"request_headers_to_add", "request_headers_to_remove",
                                  "response_headers_to_add", "response_headers_to_remove"}) {
    // On the route configuration, the virtual host and the route.
    EXPECT_TRUE(Contains(
        load_variation_error("          route_config:\n",
                             "          route_config:\n            " + field + ": [x-internal]\n"),
        refusal))
        << field;
    EXPECT_TRUE(Contains(
        load_variation_error(kVirtualHostHead,
                             kVirtualHostHead + "              " + field + ": [x-internal]\n"),
        refusal))
        << field;
    EXPECT_TRUE(Contains(load_variation_error("                route: {cluster: backend}\n",
                                              "                route: {cluster: backend}\n"
                                              "                " +
                                                  field + ": [x-internal]\n"),
                         refusal))
        << field;
  }
  EXPECT_TRUE(Contains(load_variation_error("          route_config:\n",
                                            "          route_config:\n"
                                            "            internal_only_headers: [x-user]\n"),
                       "(stripping internal-only headers from requests) " + kRefusal));
}

TEST(ConfigSecurityTest, RouteConstraintsAndAccessRulesAreRefused) {
  for (const std::string field :
       {"query_parameters: [{name: admin}]", "runtime_fraction: {default_value: {numerator: 1}}",
        "tls_context: {presented: true}", "cel_expr: {cel_expr_parsed: {}}",
        "dynamic_metadata: [{filter: x}]", "connect_matcher: {x: 1}"}) {
    EXPECT_TRUE(Contains(
        load_variation_error(kPrefixMatch, "- match: {prefix: \"/\", " + field + "}"),
        "(a route match constraint: without it the route matches more requests) " + kRefusal))
        << field;
  }
  LoadOutcome empty_grpc =
      load_variation(kPrefixMatch, "- match: {prefix: \"/\", grpc: {}}");  // asks for nothing
  EXPECT_EQ(empty_grpc.warnings.size(), 1u);
  EXPECT_TRUE(Contains(load_variation_error(kPrefixMatch,
                                            "- match: {prefix: /, headers: [{name: x, "
                                            "string_match: {custom: {name: x}}}]}"),
                       "a route match constraint"));
  EXPECT_TRUE(Contains(
      load_variation_error(kVirtualHostHead, kVirtualHostHead + "              require_tls: ALL\n"),
      "(requiring TLS) " + kRefusal));
  load_variation(kVirtualHostHead, kVirtualHostHead + "              require_tls: NONE\n");
  EXPECT_TRUE(Contains(
      load_variation_error(kVirtualHostHead, kVirtualHostHead + "              rate_limits: "
                                                                "[{actions: []}]\n"),
      "(rate limiting) " + kRefusal));
  EXPECT_TRUE(Contains(
      load_variation_error(kVirtualHostHead, kVirtualHostHead + "              matcher: {a: b}\n"),
      "(route selection) " + kRefusal));
}

TEST(ConfigSecurityTest, ProtectiveLimitsAreRefused) {
  EXPECT_TRUE(Contains(
      load_variation_error(kClusterHead, kClusterHead + "    circuit_breakers: {thresholds: "
                                                        "[{max_connections: 10}]}\n"),
      "(limits on upstream connections and requests) " + kRefusal));
  EXPECT_TRUE(Contains(
      load_variation_error(kVirtualHostHead,
                           kVirtualHostHead + "              per_request_buffer_limit_bytes: 10\n"),
      "(a buffer limit) " + kRefusal));
  EXPECT_TRUE(Contains(load_variation_error("route: {cluster: backend}",
                                            "route: {cluster: backend, idle_timeout: 5s}"),
                       "(a time limit) " + kRefusal));
  load_variation("route: {cluster: backend}", "route: {cluster: backend, idle_timeout: 0s}");
  EXPECT_TRUE(Contains(load_variation_error("route: {cluster: backend}",
                                            "route: {cluster: backend, max_stream_duration: "
                                            "{max_stream_duration: 5s}}"),
                       "(a time limit) " + kRefusal));
}

// Fields whose absence only loses a feature still load, with a warning each.
TEST(ConfigSecurityTest, FeatureFieldsStillOnlyWarn) {
  LoadOutcome outcome = load_variation(kVirtualHostHead, kVirtualHostHead +
                                                             "              cors: {}\n"
                                                             "              retry_policy: {}\n");
  EXPECT_EQ(outcome.warnings.size(), 2u);
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
      (Strings{warning("5:3", "access_log", "envoy.config.bootstrap.v3.Admin", "admin.access_log"),
               warning("21:11", "tracing",
                       "envoy.extensions.filters.network.http_connection_manager.v3."
                       "HttpConnectionManager",
                       kManagerPath + ".tracing"),
               warning("34:5", "health_checks", "envoy.config.cluster.v3.Cluster",
                       "static_resources.clusters[0].health_checks"),
               // Refused when it asks for something; {} asks for nothing.
               file + ":35:5: field \"circuit_breakers\" of envoy.config.cluster.v3.Cluster is not "
                      "implemented by weir and is ignored (its value asks for nothing) (at "
                      "static_resources.clusters[0].circuit_breakers)"}));
  // transport_socket: raw_buffer is plaintext, what weir does: no warning. The older
  // http2_protocol_options field makes the cluster HTTP/2.
  EXPECT_EQ(outcome.config.clusters.at(0).http_protocol, weir::config::UpstreamHttpProtocol::Http2);
  // Implemented: bounds the connection's buffers and what one stream may buffer.
  EXPECT_EQ(outcome.config.listeners.at(0).http.per_connection_buffer_limit_bytes, 32768u);
}

TEST(ConfigLoaderTest, CodecTypeAndHttp2ProtocolOptions) {
  const LoadOutcome plain = load_variation("stat_prefix: main\n", "stat_prefix: main\n");
  const HttpConnectionManagerConfig& defaults = plain.config.listeners.at(0).http;
  // Envoy's defaults.
  EXPECT_EQ(defaults.codec_type, CodecType::Auto);
  EXPECT_EQ(defaults.http2_protocol_options.max_concurrent_streams, 1024u);
  EXPECT_EQ(defaults.http2_protocol_options.initial_stream_window_size, 268435456u);
  EXPECT_EQ(defaults.http2_protocol_options.initial_connection_window_size, 268435456u);
  EXPECT_EQ(defaults.http2_protocol_options.max_outbound_frames, 10000u);
  EXPECT_EQ(defaults.http2_protocol_options.max_outbound_control_frames, 1000u);

  const LoadOutcome set =
      load_variation("          stat_prefix: main\n",
                     "          stat_prefix: main\n"
                     "          codec_type: HTTP2\n"
                     "          http2_protocol_options:\n"
                     "            max_concurrent_streams: 100\n"
                     "            initial_stream_window_size: 65536\n"
                     "            initial_connection_window_size: 1048576\n"
                     "            max_outbound_frames: 500\n"
                     "            max_consecutive_inbound_frames_with_empty_payload: 2\n");
  EXPECT_EQ(set.warnings, Strings{});
  const HttpConnectionManagerConfig& manager = set.config.listeners.at(0).http;
  EXPECT_EQ(manager.codec_type, CodecType::Http2);
  EXPECT_EQ(manager.http2_protocol_options.max_concurrent_streams, 100u);
  EXPECT_EQ(manager.http2_protocol_options.initial_stream_window_size, 65536u);
  EXPECT_EQ(manager.http2_protocol_options.initial_connection_window_size, 1048576u);
  EXPECT_EQ(manager.http2_protocol_options.max_outbound_frames, 500u);
  EXPECT_EQ(manager.http2_protocol_options.max_consecutive_inbound_frames_with_empty_payload, 2u);

  // Not implemented: a warning, never silence.
  const LoadOutcome connect = load_variation("          stat_prefix: main\n",
                                             "          stat_prefix: main\n"
                                             "          http2_protocol_options:\n"
                                             "            allow_connect: true\n");
  ASSERT_EQ(connect.warnings.size(), 1u);
  EXPECT_TRUE(Contains(connect.warnings[0], "allow_connect"));
}

TEST(ConfigLoaderErrorTest, Http2ProtocolOptionsOutOfEnvoysRange) {
  const std::string manager = "          stat_prefix: main\n";
  EXPECT_TRUE(
      Contains(load_variation_error(manager, manager + "          http2_protocol_options:\n"
                                                       "            max_concurrent_streams: 0\n"),
               "expected an integer from 1 to 2147483647"));
  EXPECT_TRUE(Contains(
      load_variation_error(manager, manager + "          http2_protocol_options:\n"
                                              "            initial_stream_window_size: 1000\n"),
      "expected an integer from 65535 to 2147483647"));
}

}  // namespace
}  // namespace weir::config

namespace weir::config {

// typed_extension_protocol_options as Envoy writes it: the protocol and its options.
const std::string kProtocolOptionsHead =
    "    typed_extension_protocol_options:\n"
    "      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
    "        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3."
    "HttpProtocolOptions\n";

TEST(ConfigLoaderTest, UpstreamHttp2ProtocolOptions) {
  LoadOutcome outcome = load_variation(
      kClusterHead, kClusterHead + kProtocolOptionsHead +
                        "        explicit_http_config:\n"
                        "          http2_protocol_options:\n"
                        "            max_concurrent_streams: 7\n"
                        "            initial_stream_window_size: 70000\n"
                        "            initial_connection_window_size: 80000\n"
                        "        common_http_protocol_options: {idle_timeout: 2s}\n");
  const ClusterConfig& c = outcome.config.clusters.at(0);
  EXPECT_EQ(c.http_protocol, UpstreamHttpProtocol::Http2);
  EXPECT_EQ(c.http2_protocol_options.max_concurrent_streams, 7u);
  EXPECT_EQ(c.http2_protocol_options.initial_stream_window_size, 70000u);
  EXPECT_EQ(c.http2_protocol_options.initial_connection_window_size, 80000u);
  EXPECT_EQ(c.idle_timeout, std::chrono::milliseconds(2000));

  outcome = load_variation(kClusterHead, kClusterHead + kProtocolOptionsHead +
                                             "        explicit_http_config:\n"
                                             "          http_protocol_options: {}\n");
  EXPECT_EQ(outcome.config.clusters.at(0).http_protocol, UpstreamHttpProtocol::Http1);

  outcome = load_variation(kClusterHead, kClusterHead + kProtocolOptionsHead +
                                             "        use_downstream_protocol_config:\n"
                                             "          http2_protocol_options: {}\n");
  EXPECT_EQ(outcome.config.clusters.at(0).http_protocol, UpstreamHttpProtocol::UseDownstream);

  // The older cluster field.
  outcome = load_variation(kClusterHead, kClusterHead +
                                             "    http2_protocol_options:\n"
                                             "      max_concurrent_streams: 3\n");
  EXPECT_EQ(outcome.config.clusters.at(0).http_protocol, UpstreamHttpProtocol::Http2);
  EXPECT_EQ(outcome.config.clusters.at(0).http2_protocol_options.max_concurrent_streams, 3u);
}

TEST(ConfigLoaderTest, UpstreamProtocolOptionsWeirCannotHonourFailToLoad) {
  EXPECT_TRUE(Contains(load_variation_error(kClusterHead, kClusterHead + kProtocolOptionsHead +
                                                              "        auto_config: {}\n"),
                       "auto_config (protocol chosen per connection by ALPN) is not implemented"));
  EXPECT_TRUE(Contains(load_variation_error(kClusterHead, kClusterHead + kProtocolOptionsHead +
                                                              "        explicit_http_config: {}\n"),
                       "takes exactly one of http_protocol_options and http2_protocol_options"));
  EXPECT_TRUE(Contains(
      load_variation_error(kClusterHead,
                           kClusterHead +
                               "    typed_extension_protocol_options:\n"
                               "      envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions: {}\n"),
      "are not implemented by weir"));
  // Out of Envoy's range: file:line.
  EXPECT_TRUE(
      Contains(load_variation_error(kClusterHead, kClusterHead + kProtocolOptionsHead +
                                                      "        explicit_http_config:\n"
                                                      "          http2_protocol_options:\n"
                                                      "            max_concurrent_streams: 0\n"),
               "variation.yaml:"));
}

}  // namespace weir::config

namespace weir::config {
namespace {

// YAML aliases make a config a graph. An alias inside its own anchor is a cycle, which a
// walk would follow until the stack ran out (found by weir_config_fuzz); aliases of
// aliases expand exponentially. Both are refused, located, before anything walks them.
TEST(ConfigLoaderTest, SelfReferencingAliasIsRefusedNotFollowed) {
  const std::string yaml =
      "static_resources:\n"
      "  listeners:\n"
      "  - name: main\n"
      "    filter_chains:\n"
      "    - filters: &filters\n"
      "      - name: envoy.filters.network.http_connection_manager\n"
      "        typed_config: {nested: *filters}\n";
  Result<LoadOutcome> outcome = load_bootstrap_string(yaml, "cycle.yaml", {});
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().find("cycle.yaml:"), std::string::npos) << outcome.error();
  EXPECT_NE(outcome.error().find("YAML nested deeper than 100 levels"), std::string::npos)
      << outcome.error();
}

TEST(ConfigLoaderTest, AliasBombIsRefused) {
  // 10 levels of 10 aliases each: 10^10 nodes once expanded, in 12 lines.
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", " : "") + prev;
    yaml += "]\n";
  }
  Result<LoadOutcome> outcome = load_bootstrap_string(yaml, "bomb.yaml", {});
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().find("more than 1000000 YAML nodes once aliases are expanded"),
            std::string::npos)
      << outcome.error();
}

TEST(ConfigLoaderTest, DeepButBoundedNestingLoads) {
  // 90 levels of flow sequences in metadata: within the bound, it loads.
  std::string nested = std::string(90, '[') + "1" + std::string(90, ']');
  const std::string yaml = "node: {metadata: {deep: " + nested +
                           "}}\n"
                           "admin: {address: {socket_address: {address: 127.0.0.1, "
                           "port_value: 9901}}}\n";
  Result<LoadOutcome> outcome = load_bootstrap_string(yaml, "deep.yaml", {});
  EXPECT_TRUE(outcome.ok()) << outcome.error();
}

}  // namespace
}  // namespace weir::config
