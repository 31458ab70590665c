#pragma once
// The loaders, one per part of Envoy's bootstrap. Each reads one message at a ConfigNode
// into the structs of config.h and throws LoadError for anything wrong in it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/config_node.h"

namespace weir::config {

// core_types_loader.cc: envoy.config.core.v3 messages several parts share.
SocketAddress load_address(const ConfigNode& address);  // Address{socket_address}
bool is_ip_literal(const std::string& address);
// The node inside an Address that names the host, for errors about it.
ConfigNode address_host_node(const ConfigNode& address);
// Inline, or a file's bytes: at most kMaxDataSourceFileBytes (more is a config error).
constexpr size_t kMaxDataSourceFileBytes = 16 * 1024 * 1024;
std::string load_data_source(const ConfigNode& data_source);

// tls_context_loader.cc: a TransportSocket: raw_buffer (plaintext: nullopt) or
// envoy.transport_sockets.tls with its TLS context; every other socket fails the load,
// never degrades to plaintext. `what` names the traffic, for the message.
std::optional<DownstreamTlsContextConfig> load_downstream_transport_socket(
    const ConfigNode& transport_socket, std::string_view what);
std::optional<UpstreamTlsContextConfig> load_upstream_transport_socket(
    const ConfigNode& transport_socket, std::string_view what);

// listener_loader.cc: envoy.config.core.v3.Http2ProtocolOptions (Envoy's ranges and
// defaults), for listeners and clusters.
Http2ProtocolOptions load_http2_protocol_options(const ConfigNode& options);

// runtime_loader.cc: Bootstrap.layered_runtime (static layers), read before the rest.
void load_layered_runtime(const ConfigNode& layered_runtime);
// A runtime key's integer value, marked as read; a value out of [min, max] fails the load.
std::optional<uint64_t> runtime_uint(LoadContext& context, std::string_view key, uint64_t min,
                                     uint64_t max);
// One warning per runtime key no loader read.
void warn_unread_runtime_keys(LoadContext& context);

// overload_manager_loader.cc: Bootstrap.overload_manager (read after the runtime, whose
// overload.global_downstream_max_connections it honours when no monitor is configured).
OverloadConfig load_overload_manager(const ConfigNode& overload_manager);

// matcher_loader.cc: envoy.type.matcher.v3 RegexMatcher and StringMatcher.
// A pattern compiled with the runtime's program-size limit, or `max_program_size`.
RegexPtr compile_regex(const ConfigNode& pattern,
                       std::optional<uint32_t> max_program_size = std::nullopt);
RegexPtr load_regex_matcher(const ConfigNode& regex_matcher);
StringMatch load_string_matcher(const ConfigNode& string_matcher);

// wasm_config_loader.cc: envoy.extensions.wasm.v3.PluginConfig (filters and services).
WasmPluginConfig load_wasm_plugin(const ConfigNode& plugin_config);
// Points each code.remote at its http_uri.cluster (an unknown one fails the load).
void resolve_remote_code_clusters(BootstrapConfig& config);

// http_filter_loader.cc: HttpConnectionManager.http_filters, router last.
std::vector<HttpFilterConfig> load_http_filters(const ConfigNode& http_filters);

// route_config_loader.cc
RouteConfiguration load_route_configuration(const ConfigNode& route_config);

// listener_loader.cc: a listener with its filter chain and HttpConnectionManager.
ListenerConfig load_listener(const ConfigNode& listener);

// access_log_loader.cc: HttpConnectionManager.access_log (file, stdout, stderr loggers).
std::vector<AccessLogConfig> load_access_logs(const ConfigNode& access_log);

// stats_config_loader.cc: Bootstrap.stats_config (stats_tags, use_all_default_tags).
StatsConfig load_stats_config(const ConfigNode& stats_config);

// upgrade_config_loader.cc: upgrade_configs of an HttpConnectionManager and of a route.
std::vector<UpgradeConfig> load_hcm_upgrade_configs(const ConfigNode& upgrade_configs);
std::vector<UpgradeConfig> load_route_upgrade_configs(const ConfigNode& upgrade_configs);

// cluster_loader.cc
ClusterConfig load_cluster(const ConfigNode& cluster);

// metadata_loader.cc: core.v3.Metadata (filter_metadata; typed_filter_metadata fails the
// load), google.protobuf.Struct values, and Bootstrap.node.
common::Metadata load_metadata(const ConfigNode& metadata);
common::ProtoValue load_struct(const ConfigNode& value);
common::NodeInfo load_node(const ConfigNode& node);

}  // namespace weir::config
