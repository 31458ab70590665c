#pragma once
// What every connection of one listener on one worker shares: config, routes, the
// worker's filter factories and upstream pools, and stats handles.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "access_log/access_logger.h"
#include "config/config.h"
#include "event/event_loop.h"
#include "proxy/http_filter.h"
#include "proxy/route_table.h"
#include "proxy/upstream_pool.h"
#include "stats/stats_store.h"

namespace weir::net::tls {
class ServerContext;
}

namespace weir::proxy {

struct ConnectionManagerStats {
  stats::Counter& downstream_cx_total;
  stats::Gauge& downstream_cx_active;
  stats::Counter& downstream_rq_total;
  stats::Gauge& downstream_rq_active;
  stats::Counter& downstream_rq_1xx;
  stats::Counter& downstream_rq_2xx;
  stats::Counter& downstream_rq_3xx;
  stats::Counter& downstream_rq_4xx;
  stats::Counter& downstream_rq_5xx;
  stats::Counter& downstream_rq_timeout;
  stats::Counter& downstream_rq_idle_timeout;
  stats::Counter& downstream_cx_protocol_error;
  stats::Histogram& downstream_rq_time;
  stats::Counter& listener_downstream_cx_total;
  // Flow control: reading the client stopped / resumed (its stream's upstream is backed
  // up, or filters hold a request body at the buffer limit).
  stats::Counter& downstream_flow_control_paused_reading_total;
  stats::Counter& downstream_flow_control_resumed_reading_total;
  stats::Counter& downstream_cx_upgrades_total;
  stats::Gauge& downstream_cx_upgrades_active;
  stats::Counter& downstream_rq_header_timeout;
  stats::Counter& downstream_cx_idle_timeout;
  stats::Counter& downstream_cx_max_requests_reached;
  stats::Counter& downstream_rq_too_large;  // 413: filters buffered past the limit
  stats::Counter& rs_too_large;             // the same on the response side
  // HTTP/2 (downstream_cx_* under http.<stat_prefix>., the codec's under http2., as Envoy).
  stats::Counter& downstream_cx_http2_total;
  stats::Gauge& downstream_cx_http2_active;
  stats::Counter& downstream_rq_too_many_premature_resets;
  stats::Counter& http2_rx_reset;
  stats::Counter& http2_tx_reset;
  stats::Counter& http2_header_overflow;
  stats::Counter& http2_rx_messaging_error;
  stats::Counter& http2_outbound_flood;
  stats::Counter& http2_outbound_control_flood;
  stats::Counter& http2_inbound_empty_frames_flood;
  stats::Counter& http2_inbound_priority_frames_flood;
  stats::Counter& http2_inbound_window_update_frames_flood;
  stats::Counter& http2_goaway_sent;
  stats::Counter& downstream_cx_ssl_total;  // TLS connections (handshake begun)
  stats::Gauge& downstream_cx_ssl_active;

  static std::unique_ptr<ConnectionManagerStats> create(stats::StatsStore& store,
                                                        const std::string& stat_prefix,
                                                        const std::string& listener_stat_name);
  stats::Counter& by_class(uint32_t status);
};

struct ConnectionManagerSetup {
  const config::HttpConnectionManagerConfig& config;
  const RouteTable& routes;
  std::vector<std::unique_ptr<HttpFilterFactory>> filter_factories;
  std::function<UpstreamPool*(std::string_view cluster)> find_pool;
  ConnectionManagerStats& stats;
  event::EventLoop& loop;
  uint16_t local_port = 0;
  // Set when the server drains: responses carry "connection: close".
  const bool* draining = nullptr;
  // This worker's access logs of the listener; null when none are configured.
  std::unique_ptr<access_log::WorkerAccessLogger> access_log{};
  // The listener's TLS (filter chains with a TLS transport_socket); null: plaintext.
  net::tls::ServerContext* tls = nullptr;
};

// Which codec serves a downstream connection, from the protocol its TLS handshake chose
// with ALPN ("" for plaintext or none): the one place that maps ALPN to a codec.
enum class DownstreamCodec { Http1, Http2 };
DownstreamCodec downstream_codec_for(std::string_view negotiated_protocol);

}  // namespace weir::proxy
