#include "proxy/cluster_manager.h"

#include "proxy/tls_config.h"

namespace weir::proxy {

stats::Counter& ClusterStats::by_class(uint32_t status) {
  switch (status / 100) {
    case 1:
      return upstream_rq_1xx;
    case 2:
      return upstream_rq_2xx;
    case 3:
      return upstream_rq_3xx;
    case 4:
      return upstream_rq_4xx;
    default:
      return upstream_rq_5xx;
  }
}

static std::unique_ptr<ClusterStats> make_cluster_stats(const std::string& name,
                                                        stats::StatsStore& s) {
  std::string p = "cluster." + name + ".";
  return std::unique_ptr<ClusterStats>(new ClusterStats{
      .upstream_rq_total = s.counter(p + "upstream_rq_total"),
      .upstream_rq_1xx = s.counter(p + "upstream_rq_1xx"),
      .upstream_rq_2xx = s.counter(p + "upstream_rq_2xx"),
      .upstream_rq_3xx = s.counter(p + "upstream_rq_3xx"),
      .upstream_rq_4xx = s.counter(p + "upstream_rq_4xx"),
      .upstream_rq_5xx = s.counter(p + "upstream_rq_5xx"),
      .upstream_rq_timeout = s.counter(p + "upstream_rq_timeout"),
      .upstream_cx_total = s.counter(p + "upstream_cx_total"),
      .upstream_cx_connect_fail = s.counter(p + "upstream_cx_connect_fail"),
      .upstream_cx_active = s.gauge(p + "upstream_cx_active"),
      .upstream_rq_active = s.gauge(p + "upstream_rq_active"),
      .upstream_rq_time = s.histogram(p + "upstream_rq_time"),
      .upstream_cx_protocol_error = s.counter(p + "upstream_cx_protocol_error"),
      .upstream_flow_control_paused_reading_total =
          s.counter(p + "upstream_flow_control_paused_reading_total"),
      .upstream_flow_control_resumed_reading_total =
          s.counter(p + "upstream_flow_control_resumed_reading_total"),
      .upstream_flow_control_backed_up_total =
          s.counter(p + "upstream_flow_control_backed_up_total"),
      .upstream_flow_control_drained_total = s.counter(p + "upstream_flow_control_drained_total"),
      .upstream_cx_http1_total = s.counter(p + "upstream_cx_http1_total"),
      .upstream_cx_http2_total = s.counter(p + "upstream_cx_http2_total"),
      .upstream_cx_close_notify = s.counter(p + "upstream_cx_close_notify"),
      .upstream_cx_idle_timeout = s.counter(p + "upstream_cx_idle_timeout"),
      .http2_rx_reset = s.counter(p + "http2.rx_reset"),
      .http2_tx_reset = s.counter(p + "http2.tx_reset"),
      .http2_header_overflow = s.counter(p + "http2.header_overflow"),
      .http2_rx_messaging_error = s.counter(p + "http2.rx_messaging_error"),
      .http2_goaway_sent = s.counter(p + "http2.goaway_sent"),
  });
}

Result<std::unique_ptr<ClusterManager>> ClusterManager::create(
    const std::vector<config::ClusterConfig>& clusters, stats::StatsStore& stats) {
  auto cm = std::make_unique<ClusterManager>();
  for (const auto& c : clusters) {
    Cluster cluster{c, {}, make_cluster_stats(c.name, stats), nullptr};
    if (c.tls) {
      net::tls::ClientOptions options = client_tls_options(*c.tls);
      // As Envoy: an HTTP/2 cluster offers "h2" by ALPN unless alpn_protocols says
      // otherwise (an HTTP/1 cluster offers what alpn_protocols lists, if anything).
      if (c.http_protocol == config::UpstreamHttpProtocol::Http2 &&
          options.common.alpn_protocols.empty()) {
        options.common.alpn_protocols = {"h2"};
      }
      auto tls = net::tls::ClientContext::create(
          std::move(options), net::tls::TlsStats::create(stats, "cluster." + c.name + "."),
          c.location.to_string() + ": cluster '" + c.name + "'");
      if (!tls) return Error{tls.error()};
      cluster.tls = std::move(*tls);
    }
    for (const auto& ep : c.endpoints) {
      auto addr = net::resolve(ep.address, ep.port);
      if (!addr) return Error{"cluster '" + c.name + "': " + addr.error()};
      cluster.endpoints.push_back(*addr);
    }
    cm->clusters_.emplace(c.name, std::move(cluster));
  }
  return cm;
}

const Cluster* ClusterManager::find(std::string_view name) const {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : &it->second;
}

}  // namespace weir::proxy
