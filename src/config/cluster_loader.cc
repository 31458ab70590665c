// envoy.config.cluster.v3.Cluster with its load_assignment endpoints.
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

void load_endpoints(const ConfigNode& load_assignment, ClusterConfig& cluster) {
  if (!load_assignment.present()) return;  // a cluster without endpoints is valid
  load_assignment.expect_fields(names::kClusterLoadAssignment, {"cluster_name", "endpoints"});
  load_assignment.required("cluster_name").as_nonempty_string();  // Envoy requires it too
  for (const ConfigNode& locality : load_assignment.field("endpoints").items()) {
    locality.expect_fields(names::kLocalityLbEndpoints, {"lb_endpoints"});
    for (const ConfigNode& lb_endpoint : locality.field("lb_endpoints").items()) {
      lb_endpoint.expect_fields(names::kLbEndpoint, {"endpoint"});
      const ConfigNode endpoint = lb_endpoint.required("endpoint");
      endpoint.expect_fields(names::kEndpoint, {"address"});
      const ConfigNode address = endpoint.required("address");
      cluster.endpoints.push_back(load_address(address));
      if (cluster.type == ClusterType::Static && !is_ip_literal(cluster.endpoints.back().address)) {
        address_host_node(address).fail(
            "a STATIC cluster's endpoints must be numeric IP addresses, got \"" +
            cluster.endpoints.back().address + "\" (use type STRICT_DNS for host names)");
      }
    }
  }
  if (cluster.type == ClusterType::LogicalDns && cluster.endpoints.size() > 1) {
    load_assignment.fail("a LOGICAL_DNS cluster takes a single endpoint");
  }
}

// envoy.config.core.v3.Http1ProtocolOptions for an upstream: weir's HTTP/1 client has no
// option to set; the fields Envoy has are warned about by expect_fields.
void load_http1_protocol_options(const ConfigNode& options) {
  if (options.present()) options.expect_fields(names::kHttp1ProtocolOptions, {});
}

// typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].
void load_upstream_http_protocol_options(const ConfigNode& extension, ClusterConfig& cluster) {
  const ConfigNode body =
      typed_config_body(extension, names::kUpstreamHttpProtocolOptionsExtension);
  body.expect_fields(names::kUpstreamHttpProtocolOptionsExtension,
                     {"explicit_http_config", "use_downstream_protocol_config", "auto_config",
                      "common_http_protocol_options"});
  const int chosen = body.has("explicit_http_config") + body.has("use_downstream_protocol_config") +
                     body.has("auto_config");
  if (chosen > 1) {
    body.fail("takes one of explicit_http_config, use_downstream_protocol_config and auto_config");
  }
  if (body.has("auto_config")) {
    // ALPN-negotiated HTTP/1.1 or HTTP/2 (and HTTP/3) per connection: not built.
    body.field("auto_config")
        .fail(
            "auto_config (protocol chosen per connection by ALPN) is not implemented by weir: use "
            "explicit_http_config with http_protocol_options or http2_protocol_options");
  }
  if (body.has("explicit_http_config")) {
    const ConfigNode explicit_config = body.field("explicit_http_config");
    explicit_config.expect_fields(names::kExplicitHttpConfig,
                                  {"http_protocol_options", "http2_protocol_options"});
    if (explicit_config.has("http3_protocol_options")) {
      explicit_config.field("http3_protocol_options").fail("HTTP/3 is not implemented by weir");
    }
    if (explicit_config.has("http_protocol_options") +
            explicit_config.has("http2_protocol_options") !=
        1) {
      explicit_config.fail("takes exactly one of http_protocol_options and http2_protocol_options");
    }
    if (explicit_config.has("http2_protocol_options")) {
      cluster.http_protocol = UpstreamHttpProtocol::Http2;
      cluster.http2_protocol_options =
          load_http2_protocol_options(explicit_config.field("http2_protocol_options"));
    } else {
      cluster.http_protocol = UpstreamHttpProtocol::Http1;
      load_http1_protocol_options(explicit_config.field("http_protocol_options"));
    }
  }
  if (body.has("use_downstream_protocol_config")) {
    const ConfigNode downstream = body.field("use_downstream_protocol_config");
    downstream.expect_fields(names::kUseDownstreamHttpConfig,
                             {"http_protocol_options", "http2_protocol_options"});
    if (downstream.has("http3_protocol_options")) {
      downstream.field("http3_protocol_options").fail("HTTP/3 is not implemented by weir");
    }
    cluster.http_protocol = UpstreamHttpProtocol::UseDownstream;
    load_http1_protocol_options(downstream.field("http_protocol_options"));
    cluster.http2_protocol_options =
        load_http2_protocol_options(downstream.field("http2_protocol_options"));
  }
  const ConfigNode common = body.field("common_http_protocol_options");
  if (common.present()) {
    common.expect_fields(names::kHttpProtocolOptions, {"idle_timeout"});
    if (common.has("idle_timeout")) {
      cluster.idle_timeout = common.field("idle_timeout").as_duration();
    }
  }
}

}  // namespace

ClusterConfig load_cluster(const ConfigNode& cluster) {
  cluster.expect_fields(names::kCluster, {"name", "type", "connect_timeout", "lb_policy",
                                          "load_assignment", "http2_protocol_options",
                                          "transport_socket", "per_connection_buffer_limit_bytes",
                                          "metadata", "typed_extension_protocol_options"});
  ClusterConfig result;
  result.location = cluster.location();
  result.name = cluster.required("name").as_nonempty_string();
  result.metadata = load_metadata(cluster.field("metadata"));

  if (cluster.has("type")) {
    result.type = cluster.field("type").as_enum<ClusterType>({
        {"STATIC", ClusterType::Static},
        {"STRICT_DNS", ClusterType::StrictDns},
        {"LOGICAL_DNS", ClusterType::LogicalDns},
    });
  }
  if (cluster.has("connect_timeout")) {
    const ConfigNode connect_timeout = cluster.field("connect_timeout");
    result.connect_timeout = connect_timeout.as_duration();
    if (result.connect_timeout.count() == 0) connect_timeout.fail("must be greater than 0s");
  }
  if (cluster.has("lb_policy")) {
    result.lb_policy = cluster.field("lb_policy")
                           .as_enum<LbPolicy>({
                               {"ROUND_ROBIN", LbPolicy::RoundRobin},
                               {"LEAST_REQUEST", LbPolicy::LeastRequest},
                               {"RANDOM", LbPolicy::Random},
                           });
  }
  load_endpoints(cluster.field("load_assignment"), result);
  result.tls = load_upstream_transport_socket(cluster.field("transport_socket"),
                                              "connections to cluster \"" + result.name + "\"");
  if (cluster.has("per_connection_buffer_limit_bytes")) {
    result.per_connection_buffer_limit_bytes = static_cast<uint32_t>(
        cluster.field("per_connection_buffer_limit_bytes").as_uint(1, UINT32_MAX));
  }

  const ConfigNode http2 = cluster.field("http2_protocol_options");
  if (http2.present()) {
    // The older field (deprecated in Envoy, still read): HTTP/2 with these options.
    result.http_protocol = UpstreamHttpProtocol::Http2;
    result.http2_protocol_options = load_http2_protocol_options(http2);
  }
  const ConfigNode extensions = cluster.field("typed_extension_protocol_options");
  for (const auto& [name, extension] : extensions.entries()) {
    if (name != names::kUpstreamHttpProtocolOptionsExtension) {
      extension.fail("protocol options \"" + name + "\" are not implemented by weir (only " +
                     std::string(names::kUpstreamHttpProtocolOptionsExtension) + ")");
    }
    if (http2.present()) {
      extension.fail(
          "a cluster takes http2_protocol_options or typed_extension_protocol_options, not both");
    }
    load_upstream_http_protocol_options(extension, result);
  }
  return result;
}

}  // namespace weir::config
