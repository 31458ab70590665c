#pragma once
// The bootstrap configuration weir understands: a subset of Envoy's v3 bootstrap,
// as plain structs. Only config/yaml_loader.cc knows YAML; everything else reads these.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto_struct.h"
#include "common/regex.h"
#include "common/result.h"

namespace weir::config {

// Where a value came from, for error messages after loading ("file:line:column").
struct SourceLocation {
  std::string file;
  int line = 0;                   // 1-based
  int column = 0;                 // 1-based
  std::string yaml_path;          // e.g. static_resources.listeners[0].name
  std::string to_string() const;  // "file:line:column (yaml_path)"
  // "file:line:column: message (at yaml_path)", the form every config error takes.
  std::string format_message(std::string_view message) const;
};

struct SocketAddress {
  std::string address;  // numeric IPv4/IPv6 or a host name (resolved at start-up)
  uint16_t port = 0;
};

enum class FailurePolicy { FailClosed, FailOpen, FailReload };

// Bounds on what one plugin VM may use (`vm_config.weir_limits`, a weir extension: Envoy
// has no such knobs). Past a bound the plugin gets an error status (or, for time and
// memory, the VM is stopped and the failure policy applies), never an unbounded
// allocation in the host.
struct WasmLimits {
  // CPU time one call into the plugin may take (a callback, the start function, the
  // allocator), including the host calls it makes.
  std::chrono::milliseconds call_deadline{100};
  // Linear memory of the VM: memory.grow past it fails inside the plugin.
  uint64_t max_memory_bytes = 256ull * 1024 * 1024;
  // proxy_http_call (and gRPC calls) in flight per VM.
  uint32_t max_outstanding_calls = 1024;
  // Body of an http_call response the host buffers for the plugin.
  uint64_t max_call_response_bytes = 4ull * 1024 * 1024;
  // Items waiting in one shared queue.
  uint32_t max_shared_queue_items = 10000;
  // Keys plus values in the shared data of one vm_id.
  uint64_t max_shared_data_bytes = 16ull * 1024 * 1024;
  // One proxy_log message (longer ones are cut, marked "...[truncated]").
  uint32_t max_log_line_bytes = 16 * 1024;
};

struct ClusterConfig;

// vm_config.code.remote (envoy.config.core.v3.RemoteDataSource): the module fetched at load
// time over HTTP(S) through `cluster`, or (a weir extension) pulled from an OCI registry
// when `uri` is oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST.
struct RemoteCodeConfig {
  std::string uri;
  std::string cluster_name;  // http_uri.cluster; optional for oci:// (then: HTTPS, system CAs)
  std::shared_ptr<const ClusterConfig> cluster;   // resolved after the clusters are loaded
  std::chrono::milliseconds timeout{0};           // http_uri.timeout: each attempt, whole
  std::string sha256;                             // lower-case hex; optional for oci:// only
  uint32_t num_retries = 1;                       // retry_policy.num_retries (Envoy: 1)
  std::chrono::milliseconds base_interval{1000};  // retry_back_off.base_interval
  std::chrono::milliseconds max_interval{10000};  // retry_back_off.max_interval (10x base)
  // weir_registry_auth.docker_config: a docker config.json with the registry's credentials.
  // Empty: $DOCKER_CONFIG/config.json or ~/.docker/config.json when they exist.
  std::string docker_config_path;
  bool nack_on_code_cache_miss = false;  // vm_config.nack_on_code_cache_miss
  SourceLocation location;               // of code.remote
};

struct WasmPluginConfig {
  std::string name;
  std::string root_id;
  std::string vm_id;
  std::string runtime;               // v8, wasmtime or empty: all run on Wasmtime
  std::string code_filename;         // code.local.filename (resolved relative to cwd)
  std::string code_inline;           // code.local.inline_bytes / inline_string, if no filename
  std::string plugin_configuration;  // passed raw (StringValue/BytesValue) or as JSON (Struct)
  std::string vm_configuration;
  std::map<std::string, std::string> environment;  // vm_config.environment_variables
  FailurePolicy failure_policy = FailurePolicy::FailClosed;
  // PluginConfig.allow_on_headers_stop_iteration (Envoy 1.35): unset means Envoy's false,
  // except for Higress (ABI 0.2.100) modules, whose host allows it (decided at load).
  std::optional<bool> allow_on_headers_stop_iteration;
  WasmLimits limits;  // vm_config.weir_limits
  // The bootstrap's node and the enclosing listener's metadata (filled after loading),
  // for the node and listener_metadata properties.
  std::shared_ptr<const common::NodeInfo> node;
  std::shared_ptr<const common::Metadata> listener_metadata;
  // vm_config.code.remote, instead of code_filename / code_inline.
  std::optional<RemoteCodeConfig> code_remote;
  bool singleton = false;   // bootstrap WasmService only: one VM on the main thread
  SourceLocation location;  // of the filter's typed_config
};

struct HttpFilterConfig {
  enum class Kind { Wasm, Router };
  std::string name;
  Kind kind = Kind::Router;
  WasmPluginConfig wasm;  // when kind == Wasm
  SourceLocation location;
};

// envoy.type.matcher.v3.StringMatcher, and the HeaderMatcher fields that imitate it
// (exact_match, prefix_match, suffix_match, contains_match, safe_regex_match).
struct StringMatch {
  enum class Kind { Exact, Prefix, Suffix, Contains, Regex };
  Kind kind = Kind::Exact;
  std::string value;         // every kind but Regex
  RegexPtr regex;            // Kind::Regex: compiled at load, matches the whole value
  bool ignore_case = false;  // not with Regex (Envoy refuses the combination)
};

// envoy.config.route.v3.HeaderMatcher, with Envoy's semantics: a header sent more than
// once is matched as its values joined with ","; a missing header fails every match but
// present_match: false (inverted or not), unless treat_missing_header_as_empty.
struct HeaderMatcher {
  enum class Kind { Present, String, Range };
  std::string name;
  Kind kind = Kind::Present;
  bool present = true;      // Kind::Present: present_match's value (no specifier: true)
  StringMatch string;       // Kind::String
  int64_t range_start = 0;  // Kind::Range: the value is an integer in [start, end)
  int64_t range_end = 0;
  bool invert_match = false;
  bool treat_missing_as_empty = false;
};

struct RouteMatch {
  std::optional<std::string> prefix;
  std::optional<std::string> path;
  RegexPtr safe_regex;  // matches the whole path without query and fragment
  // Only prefix and path compare case-insensitively when false (as in Envoy, a regex is
  // never affected).
  bool case_sensitive = true;
  std::vector<HeaderMatcher> headers;
};

// One `upgrade_configs` entry, on the http_connection_manager or on a route: requests with
// `Upgrade: <upgrade_type>` may switch protocols (e.g. WebSocket) and are tunnelled.
struct UpgradeConfig {
  std::string upgrade_type;  // compared case-insensitively with the Upgrade header
  bool enabled = true;
};

struct RouteAction {
  std::string cluster;
  std::optional<std::string> prefix_rewrite;
  std::chrono::milliseconds timeout{15000};  // Envoy's default; 0 disables
  // Overrides the connection manager's `enabled` for the types it lists.
  std::vector<UpgradeConfig> upgrade_configs;
};

struct DirectResponse {
  uint32_t status = 200;
  std::string body;
};

struct Route {
  std::string name;
  RouteMatch match;
  std::optional<RouteAction> route;
  std::optional<DirectResponse> direct_response;
  common::Metadata metadata;  // metadata.filter_metadata (the route_metadata property)
  SourceLocation location;    // of the route entry
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;  // "*", "*.example.com", "example.*", exact
  std::vector<Route> routes;
};

struct RouteConfiguration {
  std::string name;
  std::vector<VirtualHost> virtual_hosts;
  // Virtual hosts match the Host header without its port (Envoy's default: with it).
  bool ignore_port_in_host_matching = false;
};

// One access_log entry of an http_connection_manager: envoy.access_loggers.file (or
// .stdout / .stderr, which write to those streams).
struct AccessLogConfig {
  std::string path;
  std::string format;  // Envoy format string; empty: Envoy's default format
  SourceLocation location;
};

// HttpConnectionManager.codec_type. AUTO: HTTP/2 when the client opens with its preface
// (prior knowledge; ALPN once TLS is served), else HTTP/1.1.
enum class CodecType { Auto, Http1, Http2 };

// envoy.config.core.v3.Http2ProtocolOptions, Envoy's defaults (the codec's own copy of them,
// http::Http2Options, is filled from this in src/proxy).
struct Http2ProtocolOptions {
  uint32_t hpack_table_size = 4096;
  // Envoy's default is 2^31-1, where the cluster's circuit breakers (max_requests, 1024)
  // bound what the streams hold upstream; weir has no circuit breakers yet, so it bounds
  // the streams of one connection instead (each holds an upstream request).
  uint32_t max_concurrent_streams = 1024;
  uint32_t initial_stream_window_size = 268435456;
  uint32_t initial_connection_window_size = 268435456;
  uint32_t max_outbound_frames = 10000;
  uint32_t max_outbound_control_frames = 1000;
  uint32_t max_consecutive_inbound_frames_with_empty_payload = 1;
  uint32_t max_inbound_priority_frames_per_stream = 100;
  uint32_t max_inbound_window_update_frames_per_data_frame_sent = 10;
};

struct HttpConnectionManagerConfig {
  CodecType codec_type = CodecType::Auto;
  Http2ProtocolOptions http2_protocol_options;
  std::string stat_prefix;
  std::vector<AccessLogConfig> access_logs;
  RouteConfiguration route_config;
  std::vector<HttpFilterConfig> http_filters;
  bool use_remote_address = false;
  bool generate_request_id = true;
  // strip_port_mode: remove the Host header's port before routing (and upstream), any
  // port or only the listener's own (Envoy; never on CONNECT).
  bool strip_any_host_port = false;
  bool strip_matching_host_port = false;
  uint16_t listener_port = 0;  // for strip_matching_host_port
  std::chrono::milliseconds stream_idle_timeout{300000};
  std::chrono::milliseconds request_timeout{0};          // 0: none
  std::chrono::milliseconds request_headers_timeout{0};  // 0: none
  // Only types listed here can be upgraded to; a route may switch them on or off.
  std::vector<UpgradeConfig> upgrade_configs;
  uint32_t max_request_headers_kb = 60;  // Envoy's default
  // common_http_protocol_options
  std::chrono::milliseconds idle_timeout{3600000};  // 0: none
  uint32_t max_headers_count = 100;
  uint32_t max_requests_per_connection = 0;  // 0: unlimited
  // The listener's per_connection_buffer_limit_bytes: bounds each client connection's
  // buffers (flow control) and what one stream's filters may buffer of a body.
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
};

// envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy: the last network filter of a
// listener that proxies bytes (no HTTP) to one cluster.
struct TcpProxyConfig {
  std::string stat_prefix;
  std::string cluster;
  std::chrono::milliseconds idle_timeout{3600000};  // Envoy's default, 1 h; 0: none
  std::vector<AccessLogConfig> access_logs;
  SourceLocation location;
};

// A DataSource holding a certificate, key or CA bundle: its bytes, and the file they came
// from (empty when inline), which is watched for changes.
struct TlsDataSource {
  std::string bytes;
  std::string filename;
};

// extensions.transport_sockets.tls.v3 messages (the parts weir implements).
struct TlsCertificateConfig {
  TlsDataSource certificate_chain;
  TlsDataSource private_key;
};

// A SAN matcher of match_typed_subject_alt_names: the SAN of `san_type` must match.
struct SubjectAltNameMatcher {
  enum class Type { Dns, Uri, Email, IpAddress };
  Type san_type = Type::Dns;
  StringMatch matcher;
};

struct CommonTlsContextConfig {
  std::vector<TlsCertificateConfig> tls_certificates;
  std::vector<std::string> alpn_protocols;
  // tls_params: 0 means OpenSSL's default (Envoy: TLSv1_2 .. TLSv1_3 on both sides).
  int tls_minimum_protocol_version = 0;  // an OpenSSL TLS1_x_VERSION constant
  int tls_maximum_protocol_version = 0;
  std::vector<std::string> cipher_suites;  // OpenSSL names, TLS 1.2 and 1.3 mixed
  std::vector<std::string> ecdh_curves;
  // validation_context
  std::optional<TlsDataSource> trusted_ca;
  std::vector<SubjectAltNameMatcher> match_typed_subject_alt_names;
};

struct DownstreamTlsContextConfig {
  CommonTlsContextConfig common;
  bool require_client_certificate = false;
  // Session resumption, as Envoy: tickets (stateless) with session_ticket_keys (80 bytes
  // each; the first encrypts, all decrypt; none: random keys per context) unless
  // disable_stateless_session_resumption; a server session cache unless
  // disable_stateful_session_resumption; session_timeout bounds a session's life.
  std::vector<TlsDataSource> session_ticket_keys;
  bool disable_stateless_session_resumption = false;
  bool disable_stateful_session_resumption = false;
  std::optional<std::chrono::seconds> session_timeout;
};

struct UpstreamTlsContextConfig {
  CommonTlsContextConfig common;
  std::string sni;
};

// One entry of a listener's filter_chains. weir runs one http_connection_manager per
// listener: chains differ only in what they match (server_names) and their TLS.
struct FilterChainConfig {
  std::vector<std::string> server_names;  // filter_chain_match.server_names (SNI)
  // filter_chain_match.transport_protocol: "tls", "raw_buffer" or "" (any); only what the
  // chain's transport_socket serves (checked when loading).
  std::string transport_protocol;
  // filter_chain_match.application_protocols: ALPN names the client offers (TLS chains).
  std::vector<std::string> application_protocols;
  std::optional<DownstreamTlsContextConfig> tls;
  // Envoy's transport_socket_connect_timeout: how long a client has to finish the TLS
  // handshake. Envoy has none by default; weir bounds it (10 s) so a client that stops
  // mid-handshake cannot hold a connection and its memory for ever.
  std::chrono::milliseconds transport_socket_connect_timeout{10000};
  SourceLocation location;
};

// Envoy's core.v3.TrafficDirection; plugins read it as the listener_direction property.
enum class TrafficDirection { Unspecified, Inbound, Outbound };

struct ListenerConfig {
  std::string name;
  SocketAddress address;
  TrafficDirection traffic_direction = TrafficDirection::Unspecified;
  HttpConnectionManagerConfig http;  // unused when tcp_proxy is set
  // A filter chain ending in tcp_proxy instead of the http_connection_manager, with the
  // network Wasm filters (envoy.filters.network.wasm) before it, in order.
  std::optional<TcpProxyConfig> tcp_proxy;
  std::vector<WasmPluginConfig> network_wasm_filters;
  std::shared_ptr<const common::Metadata> metadata;  // metadata.filter_metadata, if any
  // At least one; TLS and plaintext chains mix only with the tls_inspector (a tcp_proxy
  // listener: one, plaintext).
  std::vector<FilterChainConfig> filter_chains;
  // listener_filters: envoy.filters.listener.tls_inspector, the only one weir runs. On a
  // listener with TLS and plaintext chains it tells a ClientHello from anything else.
  bool tls_inspector = false;
  // Envoy's listener_filters_timeout (15 s): a connection that sends nothing the inspector
  // can decide on by then is closed, or served in plaintext with
  // continue_on_listener_filters_timeout.
  std::chrono::milliseconds listener_filters_timeout{15000};
  bool continue_on_listener_filters_timeout = false;
  // Runtime key envoy.resource_limits.listener.<name>.connection_limit: open connections
  // past it are accepted and closed at once (listener.<address>.downstream_cx_overflow).
  std::optional<uint64_t> connection_limit;
  bool ignore_global_conn_limit = false;
  // More pending connections wait for the next wake-up (Envoy accepts all that are
  // pending; weir bounds a wake-up so a flood cannot starve established connections).
  uint32_t max_connections_to_accept_per_socket_event = 64;
  // listen() backlog; unset: the kernel's net.core.somaxconn, as in Envoy.
  std::optional<uint32_t> tcp_backlog_size;
  SourceLocation location;
};

enum class ClusterType { Static, StrictDns, LogicalDns };
enum class UpstreamHttpProtocol { Http1, Http2, UseDownstream };
enum class LbPolicy { RoundRobin, LeastRequest, Random };

struct ClusterConfig {
  std::string name;
  ClusterType type = ClusterType::Static;
  std::chrono::milliseconds connect_timeout{5000};
  LbPolicy lb_policy = LbPolicy::RoundRobin;
  std::vector<SocketAddress> endpoints;
  // Bounds each upstream connection's buffers (flow control), as on listeners.
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  // Which HTTP the cluster's upstreams speak (typed_extension_protocol_options
  // envoy.extensions.upstreams.http.v3.HttpProtocolOptions, or the older cluster field
  // http2_protocol_options): explicit_http_config's HTTP/1.1 or HTTP/2, or
  // use_downstream_protocol_config (the protocol the client used).
  UpstreamHttpProtocol http_protocol = UpstreamHttpProtocol::Http1;
  Http2ProtocolOptions http2_protocol_options;
  // common_http_protocol_options.idle_timeout: an upstream connection without requests
  // for this long is closed (Envoy's default: 1 hour; 0: never).
  std::chrono::milliseconds idle_timeout{3600 * 1000};
  common::Metadata metadata;  // metadata.filter_metadata (the cluster_metadata property)
  std::optional<UpstreamTlsContextConfig> tls;  // transport_socket envoy.transport_sockets.tls
  SourceLocation location;
};

struct AdminConfig {
  SocketAddress address;
  std::string access_log_path;
  bool ignore_global_conn_limit = false;  // admin connections count toward the global limit
};

// Bootstrap.overload_manager: weir implements the proactive resource monitor
// envoy.resource_monitors.global_downstream_max_connections (or the runtime key
// overload.global_downstream_max_connections Envoy used before it).
struct OverloadConfig {
  std::optional<uint64_t> max_active_downstream_connections;
};

// stats_config.stats_tags[]: turns part of a stat name into a tag (a Prometheus label).
struct StatsTagConfig {
  std::string tag_name;
  std::string regex;                       // empty: Envoy's default regex for tag_name
  std::optional<std::string> fixed_value;  // instead of a regex: this value on every stat
  SourceLocation location;
};

struct StatsConfig {
  std::vector<StatsTagConfig> stats_tags;
  bool use_all_default_tags = true;
};

struct BootstrapConfig {
  StatsConfig stats_config;
  OverloadConfig overload;
  std::optional<AdminConfig> admin;
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  std::vector<WasmPluginConfig> wasm_services;   // bootstrap_extensions envoy.bootstrap.wasm
  std::shared_ptr<const common::NodeInfo> node;  // Bootstrap.node (empty when absent)
  std::string source_file;
};

struct LoadOptions {
  bool allow_unknown_fields = false;  // --allow-unknown-static-fields
  // code.local.filename must name an existing file. Off only for checking a config away
  // from the machine it runs on (tests of the seed, whose /stat_filter.wasm lives in images).
  bool check_code_files = true;
};

struct LoadOutcome {
  BootstrapConfig config;
  std::vector<std::string> warnings;  // fields Envoy knows that weir does not implement yet
};

// Parses and validates a bootstrap file. Errors read "file:line:column: message (at
// yaml.path)".
Result<LoadOutcome> load_bootstrap_file(const std::string& path, const LoadOptions& options);
Result<LoadOutcome> load_bootstrap_string(const std::string& yaml, const std::string& file_name,
                                          const LoadOptions& options);

}  // namespace weir::config
