// envoy.config.listener.v3.Listener with its one filter chain: an HttpConnectionManager, or
// network Wasm filters and a tcp_proxy.
#include <cctype>

#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

HttpConnectionManagerConfig load_http_connection_manager(const ConfigNode& manager) {
  manager.expect_fields(
      names::kHttpConnectionManager,
      {"stat_prefix", "codec_type", "route_config", "http_filters", "use_remote_address",
       "generate_request_id", "stream_idle_timeout", "request_timeout", "request_headers_timeout",
       "common_http_protocol_options", "access_log", "upgrade_configs", "max_request_headers_kb",
       "forward_client_cert_details"});
  HttpConnectionManagerConfig result;
  result.stat_prefix = manager.required("stat_prefix").as_nonempty_string();

  const ConfigNode codec_type = manager.field("codec_type");
  if (codec_type.present()) {
    enum class Codec { Auto, Http1, Http2, Http3 };
    const Codec codec = codec_type.as_enum<Codec>({{"AUTO", Codec::Auto},
                                                   {"HTTP1", Codec::Http1},
                                                   {"HTTP2", Codec::Http2},
                                                   {"HTTP3", Codec::Http3}});
    if (codec == Codec::Http2 || codec == Codec::Http3) {
      codec_type.warn("weir serves HTTP/1.1 only: codec_type " + codec_type.as_string() +
                      " is ignored");
    }
  }

  if (!manager.has("route_config")) {
    manager.fail(
        "missing required field \"route_config\" (weir implements neither rds nor "
        "scoped_routes)");
  }
  result.route_config = load_route_configuration(manager.field("route_config"));
  result.http_filters = load_http_filters(manager.field("http_filters"));
  result.access_logs = load_access_logs(manager.field("access_log"));

  if (manager.has("use_remote_address")) {
    result.use_remote_address = manager.field("use_remote_address").as_bool();
  }
  if (manager.has("generate_request_id")) {
    result.generate_request_id = manager.field("generate_request_id").as_bool();
  }
  if (manager.has("stream_idle_timeout")) {
    result.stream_idle_timeout = manager.field("stream_idle_timeout").as_duration();
  }
  if (manager.has("request_timeout")) {
    result.request_timeout = manager.field("request_timeout").as_duration();
  }
  if (manager.has("request_headers_timeout")) {
    result.request_headers_timeout = manager.field("request_headers_timeout").as_duration();
  }
  result.upgrade_configs = load_hcm_upgrade_configs(manager.field("upgrade_configs"));
  // weir strips x-forwarded-client-cert from every request (Envoy's default, SANITIZE):
  // without downstream TLS there is no certificate to describe, and a client's own XFCC
  // is a forgery. Every other mode forwards or builds the header.
  const ConfigNode forward_client_cert = manager.field("forward_client_cert_details");
  if (forward_client_cert.present()) {
    std::string mode = forward_client_cert.as_string();
    for (char& c : mode) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (mode != "SANITIZE") {
      forward_client_cert.fail(
          "forward_client_cert_details " + mode +
          " is not supported: weir has no client certificates to forward (it terminates no "
          "TLS), so it strips x-forwarded-client-cert from every request; only SANITIZE, the "
          "default, is accepted");
    }
  }
  if (manager.has("max_request_headers_kb")) {
    // Envoy's range: 1 to 8192 KiB.
    result.max_request_headers_kb =
        static_cast<uint32_t>(manager.field("max_request_headers_kb").as_uint(1, 8192));
  }
  const ConfigNode protocol_options = manager.field("common_http_protocol_options");
  protocol_options.expect_fields(names::kHttpProtocolOptions, {"idle_timeout", "max_headers_count",
                                                               "max_requests_per_connection"});
  if (protocol_options.has("idle_timeout")) {
    result.idle_timeout = protocol_options.field("idle_timeout").as_duration();
  }
  if (protocol_options.has("max_headers_count")) {
    result.max_headers_count =
        static_cast<uint32_t>(protocol_options.field("max_headers_count").as_uint(1, UINT32_MAX));
  }
  if (protocol_options.has("max_requests_per_connection")) {
    result.max_requests_per_connection = static_cast<uint32_t>(
        protocol_options.field("max_requests_per_connection").as_uint(0, UINT32_MAX));
  }
  return result;
}

// Which network filter an entry is: by its typed_config type when it has one (Envoy picks
// the extension by type), else by name.
enum class NetworkFilterKind { HttpConnectionManager, TcpProxy, Wasm, Unknown };

NetworkFilterKind network_filter_kind(const ConfigNode& filter) {
  const std::string type = typed_config_type(filter.field("typed_config"));
  if (!type.empty()) {
    if (type == names::kHttpConnectionManager) return NetworkFilterKind::HttpConnectionManager;
    if (type == names::kTcpProxy) return NetworkFilterKind::TcpProxy;
    if (type == names::kNetworkWasmFilter) return NetworkFilterKind::Wasm;
    return NetworkFilterKind::Unknown;
  }
  const std::string name = filter.required("name").as_string();
  if (name == names::kHttpConnectionManagerName || name == names::kHttpConnectionManagerOldName) {
    return NetworkFilterKind::HttpConnectionManager;
  }
  if (name == names::kTcpProxyName || name == names::kTcpProxyOldName) {
    return NetworkFilterKind::TcpProxy;
  }
  if (name == names::kNetworkWasmFilterName) return NetworkFilterKind::Wasm;
  return NetworkFilterKind::Unknown;
}

TcpProxyConfig load_tcp_proxy(const ConfigNode& tcp_proxy) {
  tcp_proxy.expect_fields(names::kTcpProxy,
                          {"stat_prefix", "cluster", "idle_timeout", "access_log"});
  TcpProxyConfig result;
  result.location = tcp_proxy.location();
  result.stat_prefix = tcp_proxy.required("stat_prefix").as_nonempty_string();
  if (!tcp_proxy.has("cluster")) {
    tcp_proxy.fail(
        "missing required field \"cluster\" (weir implements neither weighted_clusters nor "
        "on-demand clusters)");
  }
  result.cluster = tcp_proxy.field("cluster").as_nonempty_string();
  if (tcp_proxy.has("idle_timeout")) {
    result.idle_timeout = tcp_proxy.field("idle_timeout").as_duration();
  }
  result.access_logs = load_access_logs(tcp_proxy.field("access_log"));
  return result;
}

void load_filter_chain(const ConfigNode& filter_chain, ListenerConfig& listener) {
  filter_chain.expect_fields(names::kFilterChain, {"filters", "transport_socket"});
  load_transport_socket(filter_chain.field("transport_socket"), "the listener's connections");
  const std::vector<ConfigNode> filters = filter_chain.required("filters").items();
  if (filters.empty()) {
    filter_chain.fail(
        "a filter chain needs a terminal network filter: http_connection_manager or "
        "tcp_proxy");
  }
  for (size_t i = 0; i < filters.size(); ++i) {
    const ConfigNode& filter = filters[i];
    filter.expect_fields(names::kNetworkFilter, {"name", "typed_config"});
    const bool last = i + 1 == filters.size();
    const NetworkFilterKind kind = network_filter_kind(filter);
    switch (kind) {
      case NetworkFilterKind::Unknown: {
        const std::string type = typed_config_type(filter.field("typed_config"));
        filter.fail("unsupported network filter \"" + filter.required("name").as_string() + "\"" +
                    (type.empty() ? "" : " of type " + type) +
                    ": weir runs envoy.filters.network.http_connection_manager, "
                    "envoy.filters.network.tcp_proxy and envoy.filters.network.wasm");
      }
      case NetworkFilterKind::Wasm: {
        if (last) {
          filter.fail(
              "envoy.filters.network.wasm cannot end a filter chain: put tcp_proxy after it");
        }
        const ConfigNode typed_config = filter.required("typed_config");
        const ConfigNode wasm = typed_config_body(typed_config, names::kNetworkWasmFilter);
        wasm.expect_fields(names::kNetworkWasmFilter, {"config"});
        WasmPluginConfig plugin = load_wasm_plugin(wasm.required("config"));
        plugin.location = typed_config.location();
        listener.network_wasm_filters.push_back(std::move(plugin));
        break;
      }
      case NetworkFilterKind::HttpConnectionManager:
      case NetworkFilterKind::TcpProxy: {
        if (!last) filter.fail("a terminal network filter must be the last of its filter chain");
        const ConfigNode typed_config = filter.required("typed_config");
        if (kind == NetworkFilterKind::TcpProxy) {
          listener.tcp_proxy = load_tcp_proxy(typed_config_body(typed_config, names::kTcpProxy));
        } else {
          if (!listener.network_wasm_filters.empty()) {
            filter.fail(
                "network Wasm filters run before tcp_proxy only: in front of the "
                "http_connection_manager, use HTTP Wasm filters (envoy.filters.http.wasm)");
          }
          listener.http = load_http_connection_manager(
              typed_config_body(typed_config, names::kHttpConnectionManager));
        }
        break;
      }
    }
  }
}

}  // namespace

ListenerConfig load_listener(const ConfigNode& listener) {
  listener.expect_fields(names::kListener,
                         {"name", "address", "filter_chains", "traffic_direction",
                          "per_connection_buffer_limit_bytes", "ignore_global_conn_limit",
                          "max_connections_to_accept_per_socket_event", "tcp_backlog_size"});
  ListenerConfig result;
  result.location = listener.location();

  const ConfigNode address = listener.required("address");
  result.address = load_address(address);
  // Envoy binds listeners to numeric addresses only; it never resolves a host name here.
  if (!is_ip_literal(result.address.address)) {
    address_host_node(address).fail("a listener address must be a numeric IP address, got \"" +
                                    result.address.address + "\"");
  }
  // The name is optional in Envoy (it makes one up); weir names it after the address.
  result.name = listener.has("name")
                    ? listener.field("name").as_nonempty_string()
                    : result.address.address + ":" + std::to_string(result.address.port);

  if (listener.has("traffic_direction")) {
    result.traffic_direction = listener.field("traffic_direction")
                                   .as_enum<TrafficDirection>({
                                       {"UNSPECIFIED", TrafficDirection::Unspecified},
                                       {"INBOUND", TrafficDirection::Inbound},
                                       {"OUTBOUND", TrafficDirection::Outbound},
                                   });
  }

  // Envoy's listener connection limit is a runtime key, named after the listener.
  result.connection_limit = runtime_uint(
      listener.context(), "envoy.resource_limits.listener." + result.name + ".connection_limit", 0,
      INT64_MAX);
  if (listener.has("ignore_global_conn_limit")) {
    result.ignore_global_conn_limit = listener.field("ignore_global_conn_limit").as_bool();
  }
  if (listener.has("max_connections_to_accept_per_socket_event")) {
    result.max_connections_to_accept_per_socket_event = static_cast<uint32_t>(
        listener.field("max_connections_to_accept_per_socket_event").as_uint(1, UINT32_MAX));
  }
  if (listener.has("tcp_backlog_size")) {
    result.tcp_backlog_size =
        static_cast<uint32_t>(listener.field("tcp_backlog_size").as_uint(1, INT32_MAX));
  }

  const ConfigNode filter_chains = listener.required("filter_chains");
  const std::vector<ConfigNode> chains = filter_chains.items();
  if (chains.empty()) filter_chains.fail("a listener needs a filter chain");
  if (chains.size() > 1) {
    chains[1].fail(
        "weir serves one filter chain per listener (filter_chain_match is not "
        "implemented)");
  }
  load_filter_chain(chains[0], result);
  // Envoy's per-connection limit bounds the connection's buffers (flow control) and what a
  // stream may buffer (e.g. a plugin pausing until the end of a body): over it, 413 on
  // requests, 500 on responses.
  if (listener.has("per_connection_buffer_limit_bytes")) {
    result.http.per_connection_buffer_limit_bytes = static_cast<uint32_t>(
        listener.field("per_connection_buffer_limit_bytes").as_uint(1, UINT32_MAX));
  }
  return result;
}

}  // namespace weir::config
