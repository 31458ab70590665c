// envoy.config.listener.v3.Listener with its filter chains: an HttpConnectionManager (one per
// listener, its TLS context chosen by server name (SNI) and ALPN, TLS and plaintext chains
// told apart by the tls_inspector), or network Wasm filters and a tcp_proxy on one
// plaintext chain.
#include <algorithm>
#include <cctype>

#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"
#include "config/yaml_to_json.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

}  // namespace

// Envoy's ranges; absent fields keep Envoy's defaults.
Http2ProtocolOptions load_http2_protocol_options(const ConfigNode& options) {
  Http2ProtocolOptions result;
  if (!options.present()) return result;
  options.expect_fields(
      names::kHttp2ProtocolOptions,
      {"hpack_table_size", "max_concurrent_streams", "initial_stream_window_size",
       "initial_connection_window_size", "max_outbound_frames", "max_outbound_control_frames",
       "max_consecutive_inbound_frames_with_empty_payload",
       "max_inbound_priority_frames_per_stream",
       "max_inbound_window_update_frames_per_data_frame_sent"});
  auto read = [&](std::string_view name, uint32_t& out, uint64_t min, uint64_t max) {
    if (options.has(name)) out = static_cast<uint32_t>(options.field(name).as_uint(min, max));
  };
  read("hpack_table_size", result.hpack_table_size, 0, UINT32_MAX);
  read("max_concurrent_streams", result.max_concurrent_streams, 1, 2147483647);
  read("initial_stream_window_size", result.initial_stream_window_size, 65535, 2147483647);
  read("initial_connection_window_size", result.initial_connection_window_size, 65535, 2147483647);
  read("max_outbound_frames", result.max_outbound_frames, 1, UINT32_MAX);
  read("max_outbound_control_frames", result.max_outbound_control_frames, 1, UINT32_MAX);
  read("max_consecutive_inbound_frames_with_empty_payload",
       result.max_consecutive_inbound_frames_with_empty_payload, 0, UINT32_MAX);
  read("max_inbound_priority_frames_per_stream", result.max_inbound_priority_frames_per_stream, 0,
       UINT32_MAX);
  read("max_inbound_window_update_frames_per_data_frame_sent",
       result.max_inbound_window_update_frames_per_data_frame_sent, 1, UINT32_MAX);
  return result;
}

namespace {

HttpConnectionManagerConfig load_http_connection_manager(const ConfigNode& manager) {
  manager.expect_fields(
      names::kHttpConnectionManager,
      {"stat_prefix", "codec_type", "route_config", "http_filters", "use_remote_address",
       "generate_request_id", "stream_idle_timeout", "request_timeout", "request_headers_timeout",
       "common_http_protocol_options", "access_log", "upgrade_configs", "max_request_headers_kb",
       "forward_client_cert_details", "strip_any_host_port", "strip_matching_host_port",
       "http2_protocol_options"});
  HttpConnectionManagerConfig result;
  result.stat_prefix = manager.required("stat_prefix").as_nonempty_string();

  const ConfigNode codec_type = manager.field("codec_type");
  if (codec_type.present()) {
    enum class Codec { Auto, Http1, Http2, Http3 };
    const Codec codec = codec_type.as_enum<Codec>({{"AUTO", Codec::Auto},
                                                   {"HTTP1", Codec::Http1},
                                                   {"HTTP2", Codec::Http2},
                                                   {"HTTP3", Codec::Http3}});
    if (codec == Codec::Http3) {
      codec_type.warn("weir serves HTTP/1.1 and HTTP/2 only: codec_type HTTP3 is taken as AUTO");
    }
    result.codec_type = codec == Codec::Http1   ? CodecType::Http1
                        : codec == Codec::Http2 ? CodecType::Http2
                                                : CodecType::Auto;
  }
  result.http2_protocol_options =
      load_http2_protocol_options(manager.field("http2_protocol_options"));

  if (!manager.has("route_config")) {
    manager.fail(
        "missing required field \"route_config\" (weir implements neither rds nor "
        "scoped_routes)");
  }
  result.route_config = load_route_configuration(manager.field("route_config"));
  result.http_filters = load_http_filters(manager.field("http_filters"));
  result.access_logs = load_access_logs(manager.field("access_log"));

  if (manager.has("strip_any_host_port") && manager.has("strip_matching_host_port")) {
    manager.fail("strip_any_host_port and strip_matching_host_port are one oneof: set one");
  }
  if (manager.has("strip_any_host_port")) {
    result.strip_any_host_port = manager.field("strip_any_host_port").as_bool();
  }
  if (manager.has("strip_matching_host_port")) {
    result.strip_matching_host_port = manager.field("strip_matching_host_port").as_bool();
  }
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
  // weir strips x-forwarded-client-cert from every request (Envoy's default, SANITIZE): a
  // client's own XFCC is a forgery, and weir does not build one from the client
  // certificate yet. Every other mode forwards or builds the header.
  const ConfigNode forward_client_cert = manager.field("forward_client_cert_details");
  if (forward_client_cert.present()) {
    std::string mode = forward_client_cert.as_string();
    for (char& c : mode) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (mode != "SANITIZE") {
      forward_client_cert.fail(
          "forward_client_cert_details " + mode +
          " is not supported: weir has no client certificates to forward (it does not build "
          "the header from a TLS client certificate yet), so it strips x-forwarded-client-cert "
          "from every request; only SANITIZE, the default, is accepted");
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

// One chain's network filters: the http_connection_manager alone, or network Wasm filters
// and a tcp_proxy.
void load_network_filters(const ConfigNode& filter_chain, ListenerConfig& listener) {
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

FilterChainConfig load_filter_chain_match_and_tls(const ConfigNode& filter_chain) {
  FilterChainConfig result;
  result.location = filter_chain.location();
  const ConfigNode match = filter_chain.field("filter_chain_match");
  match.expect_fields(names::kFilterChainMatch,
                      {"server_names", "transport_protocol", "application_protocols"});
  for (const ConfigNode& name : match.field("server_names").items()) {
    std::string server_name = name.as_nonempty_string();
    for (char& c : server_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool wildcard = server_name.starts_with("*.");
    if (server_name.find('*', wildcard ? 1 : 0) != std::string::npos) {
      name.fail("a server name may hold one '*', as its first label (\"*.example.com\")");
    }
    result.server_names.push_back(std::move(server_name));
  }
  for (const ConfigNode& protocol : match.field("application_protocols").items()) {
    result.application_protocols.push_back(protocol.as_nonempty_string());
  }
  result.tls = load_downstream_transport_socket(filter_chain.field("transport_socket"),
                                                "the listener's connections");
  if (filter_chain.has("transport_socket_connect_timeout")) {
    const ConfigNode timeout = filter_chain.field("transport_socket_connect_timeout");
    result.transport_socket_connect_timeout = timeout.as_duration();
    // 0 would mean "no limit" in Envoy; weir keeps a bound (see FilterChainConfig).
    if (result.transport_socket_connect_timeout.count() == 0) {
      timeout.fail("must be greater than 0s: weir bounds every TLS handshake");
    }
  }
  if (!result.server_names.empty() && !result.tls) {
    match.field("server_names")
        .fail(
            "server_names match the TLS server name (SNI): this chain has no TLS "
            "transport_socket");
  }
  if (!result.application_protocols.empty() && !result.tls) {
    match.field("application_protocols")
        .fail(
            "application_protocols match the ALPN names of a TLS ClientHello: this chain has "
            "no TLS transport_socket");
  }
  if (match.has("transport_protocol")) {
    const ConfigNode protocol = match.field("transport_protocol");
    result.transport_protocol = protocol.as_string();
    if (result.transport_protocol != "tls" && result.transport_protocol != "raw_buffer") {
      protocol.fail("transport_protocol \"" + result.transport_protocol +
                    "\" is not one weir tells apart: \"tls\" or \"raw_buffer\"");
    }
    // A chain matched by one transport and serving the other would read TLS records as
    // HTTP, or wait for a ClientHello from a plaintext client.
    if ((result.transport_protocol == "tls") != result.tls.has_value()) {
      protocol.fail("transport_protocol \"" + result.transport_protocol + "\" on a chain whose " +
                    (result.tls ? "transport_socket is TLS" : "transport_socket is plaintext") +
                    ": the chain would serve the other transport's bytes");
    }
  }
  return result;
}

// Two chains that the same connection could match with nothing to choose between them.
bool same_match(const FilterChainConfig& a, const FilterChainConfig& b, std::string& why) {
  if (a.tls.has_value() != b.tls.has_value()) return false;  // told apart by the inspector
  const auto overlap = [](const std::vector<std::string>& x, const std::vector<std::string>& y,
                          std::string& common) {
    if (x.empty() && y.empty()) return true;
    for (const std::string& item : x) {
      if (std::find(y.begin(), y.end(), item) != y.end()) {
        common = item;
        return true;
      }
    }
    return false;
  };
  std::string name, protocol;
  if (!overlap(a.server_names, b.server_names, name)) return false;
  if (!overlap(a.application_protocols, b.application_protocols, protocol)) return false;
  why = name.empty() ? "two filter chains match every connection (neither has server_names)"
                     : "server name \"" + name + "\" is matched by an earlier filter chain too";
  if (!protocol.empty()) why += " (with application protocol \"" + protocol + "\")";
  return true;
}

// listener_filters: the tls_inspector only (weir reads SNI and ALPN in its TLS stack; the
// inspector tells TLS from plaintext where both are served). Any other listener filter
// changes what a connection is (proxy_protocol, original_dst): refused rather than skipped.
void load_listener_filters(const ConfigNode& listener, ListenerConfig& result) {
  for (const ConfigNode& filter : listener.field("listener_filters").items()) {
    filter.expect_fields(names::kListenerFilter, {"name", "typed_config"});
    const std::string name = filter.required("name").as_string();
    const std::string type = typed_config_type(filter.field("typed_config"));
    const bool inspector =
        type.empty() ? (name == names::kTlsInspectorName || name == names::kTlsInspectorOldName)
                     : type == names::kTlsInspector;
    if (!inspector) {
      filter.fail("unsupported listener filter \"" + name + "\"" +
                  (type.empty() ? "" : " of type " + type) +
                  ": weir runs envoy.filters.listener.tls_inspector only");
    }
    if (filter.has("typed_config")) {
      typed_config_body(filter.field("typed_config"), names::kTlsInspector)
          .expect_fields(names::kTlsInspector, {});
    }
    result.tls_inspector = true;
  }
  if (listener.has("listener_filters_timeout")) {
    const ConfigNode timeout = listener.field("listener_filters_timeout");
    result.listener_filters_timeout = timeout.as_duration();
    // 0 is "no timeout" in Envoy: a client could hold the connection without a byte.
    if (result.listener_filters_timeout.count() == 0) {
      timeout.fail("must be greater than 0s: weir bounds how long a connection may stay silent");
    }
  }
  if (listener.has("continue_on_listener_filters_timeout")) {
    result.continue_on_listener_filters_timeout =
        listener.field("continue_on_listener_filters_timeout").as_bool();
  }
}

// Every chain: the same filters in each (write them once with a YAML anchor), since weir
// runs one http_connection_manager or tcp_proxy per listener; chains differ in what they
// match (server_names, transport_protocol, application_protocols) and TLS.
void load_filter_chains(const std::vector<ConfigNode>& chains, ListenerConfig& listener) {
  std::string first_filters;
  for (size_t i = 0; i < chains.size(); ++i) {
    const ConfigNode& chain = chains[i];
    chain.expect_fields(names::kFilterChain, {"filters", "transport_socket", "filter_chain_match",
                                              "transport_socket_connect_timeout"});
    const std::string filters_json = yaml_to_json(chain.required("filters").yaml());
    if (i == 0) {
      first_filters = filters_json;
    } else if (filters_json != first_filters) {
      chain.required("filters").fail(
          "weir runs one http_connection_manager per listener: every filter chain must "
          "have the same filters as the first (a YAML anchor and alias write them once); "
          "chains may differ in filter_chain_match and transport_socket");
    }
    std::vector<FilterChainConfig>& out = listener.filter_chains;
    out.push_back(load_filter_chain_match_and_tls(chain));
    const FilterChainConfig& loaded = out.back();
    if (out.size() > 1 && loaded.tls.has_value() != out.front().tls.has_value() &&
        !listener.tls_inspector) {
      chain.fail(
          "TLS and plaintext filter chains on one listener need the listener filter "
          "envoy.filters.listener.tls_inspector (listener_filters), which tells a "
          "ClientHello from plaintext");
    }
    for (size_t j = 0; j + 1 < out.size(); ++j) {
      std::string why;
      if (same_match(loaded, out[j], why)) chain.fail(why);
    }
  }
  load_network_filters(chains[0], listener);
  for (size_t i = 0; i < chains.size(); ++i) {
    const auto& tls = listener.filter_chains[i].tls;
    const auto& alpn = tls ? tls->common.alpn_protocols : std::vector<std::string>{};
    // A client that ALPN agreed "h2" with would then get HTTP/1.1.
    if (listener.http.codec_type == CodecType::Http1 &&
        std::find(alpn.begin(), alpn.end(), "h2") != alpn.end()) {
      chains[i].fail(
          "alpn_protocols offers h2 but the http_connection_manager's codec_type is HTTP1");
    }
  }
  if (listener.tcp_proxy && (chains.size() > 1 || listener.filter_chains[0].tls)) {
    chains[0].fail(
        "a tcp_proxy listener takes one plaintext filter chain: weir does not terminate TLS "
        "for tcp_proxy yet");
  }
}

}  // namespace

ListenerConfig load_listener(const ConfigNode& listener) {
  listener.expect_fields(
      names::kListener,
      {"name", "address", "filter_chains", "traffic_direction", "per_connection_buffer_limit_bytes",
       "ignore_global_conn_limit", "max_connections_to_accept_per_socket_event", "tcp_backlog_size",
       "metadata", "listener_filters", "listener_filters_timeout",
       "continue_on_listener_filters_timeout"});
  ListenerConfig result;
  result.location = listener.location();
  if (listener.has("metadata")) {
    result.metadata =
        std::make_shared<const common::Metadata>(load_metadata(listener.field("metadata")));
  }

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
  load_listener_filters(listener, result);
  load_filter_chains(chains, result);
  result.http.listener_port = result.address.port;
  for (HttpFilterConfig& filter : result.http.http_filters) {
    filter.wasm.listener_metadata = result.metadata;  // the listener_metadata property
  }
  for (WasmPluginConfig& plugin : result.network_wasm_filters) {
    plugin.listener_metadata = result.metadata;
  }
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
