#include "proxy/connection_manager_setup.h"

namespace weir::proxy {

std::unique_ptr<ConnectionManagerStats> ConnectionManagerStats::create(
    stats::StatsStore& s, const std::string& stat_prefix, const std::string& listener_stat_name) {
  std::string p = "http." + stat_prefix + ".";
  return std::unique_ptr<ConnectionManagerStats>(new ConnectionManagerStats{
      s.counter(p + "downstream_cx_total"), s.gauge(p + "downstream_cx_active"),
      s.counter(p + "downstream_rq_total"), s.gauge(p + "downstream_rq_active"),
      s.counter(p + "downstream_rq_1xx"), s.counter(p + "downstream_rq_2xx"),
      s.counter(p + "downstream_rq_3xx"), s.counter(p + "downstream_rq_4xx"),
      s.counter(p + "downstream_rq_5xx"), s.counter(p + "downstream_rq_timeout"),
      s.counter(p + "downstream_rq_idle_timeout"), s.counter(p + "downstream_cx_protocol_error"),
      s.histogram(p + "downstream_rq_time"),
      s.counter("listener." + listener_stat_name + ".downstream_cx_total")});
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

}  // namespace weir::proxy
