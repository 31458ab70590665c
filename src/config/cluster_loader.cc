// envoy.config.cluster.v3.Cluster with its load_assignment endpoints.
#include "config/envoy_names.h"
#include "config/loaders.h"

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

}  // namespace

ClusterConfig load_cluster(const ConfigNode& cluster) {
  cluster.expect_fields(
      names::kCluster,
      {"name", "type", "connect_timeout", "lb_policy", "load_assignment", "http2_protocol_options",
       "transport_socket", "per_connection_buffer_limit_bytes", "metadata"});
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
    // Recorded for when weir speaks HTTP/2 upstream; its options are not read.
    result.http2 = true;
    http2.warn("HTTP/2 to upstreams is not implemented yet: weir talks HTTP/1.1 to cluster \"" +
               result.name + "\"");
  }
  return result;
}

}  // namespace weir::config
