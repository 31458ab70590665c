#include "proxy/connection_manager_setup.h"

#include "net/tls/tls_context.h"

namespace weir::proxy {

std::unique_ptr<ConnectionManagerStats> ConnectionManagerStats::create(
    stats::StatsStore& s, const std::string& stat_prefix, const std::string& listener_stat_name) {
  std::string p = "http." + stat_prefix + ".";
  return std::unique_ptr<ConnectionManagerStats>(new ConnectionManagerStats{
      .downstream_cx_total = s.counter(p + "downstream_cx_total"),
      .downstream_cx_active = s.gauge(p + "downstream_cx_active"),
      .downstream_rq_total = s.counter(p + "downstream_rq_total"),
      .downstream_rq_active = s.gauge(p + "downstream_rq_active"),
      .downstream_rq_1xx = s.counter(p + "downstream_rq_1xx"),
      .downstream_rq_2xx = s.counter(p + "downstream_rq_2xx"),
      .downstream_rq_3xx = s.counter(p + "downstream_rq_3xx"),
      .downstream_rq_4xx = s.counter(p + "downstream_rq_4xx"),
      .downstream_rq_5xx = s.counter(p + "downstream_rq_5xx"),
      .downstream_rq_timeout = s.counter(p + "downstream_rq_timeout"),
      .downstream_rq_idle_timeout = s.counter(p + "downstream_rq_idle_timeout"),
      .downstream_cx_protocol_error = s.counter(p + "downstream_cx_protocol_error"),
      .downstream_rq_time = s.histogram(p + "downstream_rq_time"),
      .listener_downstream_cx_total =
          s.counter("listener." + listener_stat_name + ".downstream_cx_total"),
      .downstream_flow_control_paused_reading_total =
          s.counter(p + "downstream_flow_control_paused_reading_total"),
      .downstream_flow_control_resumed_reading_total =
          s.counter(p + "downstream_flow_control_resumed_reading_total"),
      .downstream_cx_upgrades_total = s.counter(p + "downstream_cx_upgrades_total"),
      .downstream_cx_upgrades_active = s.gauge(p + "downstream_cx_upgrades_active"),
      .downstream_rq_header_timeout = s.counter(p + "downstream_rq_header_timeout"),
      .downstream_cx_idle_timeout = s.counter(p + "downstream_cx_idle_timeout"),
      .downstream_cx_max_requests_reached = s.counter(p + "downstream_cx_max_requests_reached"),
      .downstream_rq_too_large = s.counter(p + "downstream_rq_too_large"),
      .rs_too_large = s.counter(p + "rs_too_large"),
      .downstream_cx_http2_total = s.counter(p + "downstream_cx_http2_total"),
      .downstream_cx_http2_active = s.gauge(p + "downstream_cx_http2_active"),
      .downstream_rq_too_many_premature_resets =
          s.counter(p + "downstream_rq_too_many_premature_resets"),
      .http2_rx_reset = s.counter("http2.rx_reset"),
      .http2_tx_reset = s.counter("http2.tx_reset"),
      .http2_header_overflow = s.counter("http2.header_overflow"),
      .http2_rx_messaging_error = s.counter("http2.rx_messaging_error"),
      .http2_outbound_flood = s.counter("http2.outbound_flood"),
      .http2_outbound_control_flood = s.counter("http2.outbound_control_flood"),
      .http2_inbound_empty_frames_flood = s.counter("http2.inbound_empty_frames_flood"),
      .http2_inbound_priority_frames_flood = s.counter("http2.inbound_priority_frames_flood"),
      .http2_inbound_window_update_frames_flood =
          s.counter("http2.inbound_window_update_frames_flood"),
      .http2_goaway_sent = s.counter("http2.goaway_sent"),
      .downstream_cx_ssl_total = s.counter(p + "downstream_cx_ssl_total"),
      .downstream_cx_ssl_active = s.gauge(p + "downstream_cx_ssl_active"),
  });
}

stats::Counter& ConnectionManagerStats::by_class(uint32_t status) {
  switch (status / 100) {
    case 1:
      return downstream_rq_1xx;
    case 2:
      return downstream_rq_2xx;
    case 3:
      return downstream_rq_3xx;
    case 4:
      return downstream_rq_4xx;
    default:
      return downstream_rq_5xx;
  }
}

DownstreamCodec downstream_codec_for(std::string_view negotiated_protocol) {
  return negotiated_protocol == "h2" ? DownstreamCodec::Http2 : DownstreamCodec::Http1;
}

}  // namespace weir::proxy
