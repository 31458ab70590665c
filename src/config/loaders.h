#pragma once
// The loaders, one per part of Envoy's bootstrap. Each reads one message at a ConfigNode
// into the structs of config.h and throws LoadError for anything wrong in it.
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_node.h"

namespace weir::config {

// core_types_loader.cc: envoy.config.core.v3 messages several parts share.
SocketAddress load_address(const ConfigNode& address);  // Address{socket_address}
bool is_ip_literal(const std::string& address);
// The node inside an Address that names the host, for errors about it.
ConfigNode address_host_node(const ConfigNode& address);
std::string load_data_source(const ConfigNode& data_source);  // inline, or a file's bytes

// wasm_config_loader.cc: envoy.extensions.wasm.v3.PluginConfig (filters and services).
WasmPluginConfig load_wasm_plugin(const ConfigNode& plugin_config);

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

}  // namespace weir::config
