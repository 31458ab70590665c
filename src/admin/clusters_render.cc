#include "admin/clusters_render.h"

#include <utility>
#include <vector>

#include "config/yaml_to_json.h"

namespace weir::admin {

namespace {

// Envoy's circuit-breaker defaults; weir has no circuit breakers, so they are the limits
// a dashboard expects to see rather than limits weir enforces.
constexpr std::pair<const char*, int> kThresholds[] = {{"max_connections", 1024},
                                                       {"max_pending_requests", 1024},
                                                       {"max_requests", 1024},
                                                       {"max_retries", 3}};

std::string host_string(const net::Address& a) {
  bool v6 = a.ip().find(':') != std::string::npos;
  return (v6 ? "[" + a.ip() + "]" : a.ip()) + ":" + std::to_string(a.port());
}

// Per-host counters. weir counts per cluster, so they are exact only for a cluster with
// one endpoint; other clusters show none rather than made-up numbers.
std::vector<std::pair<const char*, uint64_t>> host_counters(const proxy::Cluster& c) {
  if (c.endpoints.size() != 1) return {};
  const auto& s = *c.stats;
  uint64_t errors = s.upstream_rq_5xx.value();
  uint64_t answered = s.upstream_rq_1xx.value() + s.upstream_rq_2xx.value() +
                      s.upstream_rq_3xx.value() + s.upstream_rq_4xx.value();
  return {{"cx_active", static_cast<uint64_t>(s.upstream_cx_active.value())},
          {"cx_connect_fail", s.upstream_cx_connect_fail.value()},
          {"cx_total", s.upstream_cx_total.value()},
          {"rq_active", static_cast<uint64_t>(s.upstream_rq_active.value())},
          {"rq_error", errors},
          {"rq_success", answered},
          {"rq_timeout", s.upstream_rq_timeout.value()},
          {"rq_total", s.upstream_rq_total.value()}};
}

}  // namespace

std::string render_clusters_text(const proxy::ClusterManager& clusters) {
  std::string out;
  for (const auto& [name, cluster] : clusters.clusters()) {
    const std::string p = name + "::";
    out.append(p).append("observability_name::").append(name).append("\n");
    for (const char* priority : {"default_priority", "high_priority"}) {
      for (const auto& [field, value] : kThresholds) {
        out += p + priority + "::" + field + "::" + std::to_string(value) + "\n";
      }
    }
    out += p + "added_via_api::false\n";
    for (const auto& endpoint : cluster.endpoints) {
      const std::string h = p + host_string(endpoint) + "::";
      for (const auto& [field, value] : host_counters(cluster)) {
        out += h + field + "::" + std::to_string(value) + "\n";
      }
      out += h + "hostname::\n";
      out += h + "health_flags::healthy\n";  // weir does no health checking
      out += h + "weight::1\n";
      for (const char* field : {"region::\n", "zone::\n", "sub_zone::\n"}) {
        out.append(h).append(field);
      }
      out += h + "canary::false\n";
      out += h + "priority::0\n";
      out += h + "success_rate::-1\n";
      out += h + "local_origin_success_rate::-1\n";
    }
  }
  return out;
}

std::string render_clusters_json(const proxy::ClusterManager& clusters) {
  std::string out = "{\"cluster_statuses\":[";
  bool first_cluster = true;
  for (const auto& [name, cluster] : clusters.clusters()) {
    if (!first_cluster) out += ',';
    first_cluster = false;
    out += "{\"name\":" + config::json_quote(name) +
           ",\"observability_name\":" + config::json_quote(name) +
           ",\"added_via_api\":false,\"host_statuses\":[";
    bool first_host = true;
    for (const auto& endpoint : cluster.endpoints) {
      if (!first_host) out += ',';
      first_host = false;
      out += "{\"address\":{\"socket_address\":{\"address\":" + config::json_quote(endpoint.ip()) +
             ",\"port_value\":" + std::to_string(endpoint.port()) + "}},\"stats\":[";
      bool first_stat = true;
      for (const auto& [field, value] : host_counters(cluster)) {
        if (!first_stat) out += ',';
        first_stat = false;
        out +=
            std::string("{\"name\":\"") + field + "\",\"value\":\"" + std::to_string(value) + "\"}";
      }
      out += "],\"health_status\":{\"eds_health_status\":\"HEALTHY\"},\"weight\":1}";
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

}  // namespace weir::admin
