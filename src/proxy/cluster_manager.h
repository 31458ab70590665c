#pragma once
// Clusters resolved at start-up (process-wide, immutable) and their stats.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "net/address.h"
#include "net/tls/tls_context.h"
#include "stats/stats_store.h"

namespace weir::proxy {

struct ClusterStats {
  stats::Counter& upstream_rq_total;
  stats::Counter& upstream_rq_1xx;
  stats::Counter& upstream_rq_2xx;
  stats::Counter& upstream_rq_3xx;
  stats::Counter& upstream_rq_4xx;
  stats::Counter& upstream_rq_5xx;
  stats::Counter& upstream_rq_timeout;
  stats::Counter& upstream_cx_total;
  stats::Counter& upstream_cx_connect_fail;
  stats::Gauge& upstream_cx_active;
  stats::Gauge& upstream_rq_active;
  stats::Histogram& upstream_rq_time;
  stats::Counter& upstream_cx_protocol_error;  // a malformed response
  // Flow control, Envoy's names: reading the upstream stopped / resumed because the
  // client is slow (paused/resumed_reading), and the upstream connection's output over
  // its high watermark / back under the low one (backed_up/drained).
  stats::Counter& upstream_flow_control_paused_reading_total;
  stats::Counter& upstream_flow_control_resumed_reading_total;
  stats::Counter& upstream_flow_control_backed_up_total;
  stats::Counter& upstream_flow_control_drained_total;
  // HTTP/2 upstreams: connections by protocol, GOAWAYs received (close_notify), and the
  // codec's events under cluster.<name>.http2.*, as Envoy names them.
  stats::Counter& upstream_cx_http1_total;
  stats::Counter& upstream_cx_http2_total;
  stats::Counter& upstream_cx_close_notify;
  stats::Counter& upstream_cx_idle_timeout;
  stats::Counter& http2_rx_reset;
  stats::Counter& http2_tx_reset;
  stats::Counter& http2_header_overflow;
  stats::Counter& http2_rx_messaging_error;
  stats::Counter& http2_goaway_sent;
  stats::Counter& by_class(uint32_t status);
};

struct Cluster {
  config::ClusterConfig config;
  std::vector<net::Address> endpoints;
  std::unique_ptr<ClusterStats> stats;
  // transport_socket envoy.transport_sockets.tls; null: plaintext.
  std::shared_ptr<net::tls::ClientContext> tls;
};

class ClusterManager {
 public:
  static Result<std::unique_ptr<ClusterManager>> create(
      const std::vector<config::ClusterConfig>& clusters, stats::StatsStore& stats);
  const Cluster* find(std::string_view name) const;
  const std::map<std::string, Cluster, std::less<>>& clusters() const { return clusters_; }

 private:
  std::map<std::string, Cluster, std::less<>> clusters_;
};

}  // namespace weir::proxy
