#pragma once
// Everything about one listener that is decided once on the main thread and shared by
// the workers: its bound socket, routes, filter definitions and stats.
#include <memory>
#include <string>
#include <vector>

#include "access_log/access_logger.h"
#include "config/config.h"
#include "proxy/connection_manager_setup.h"
#include "proxy/http_filter.h"
#include "proxy/route_table.h"

namespace weir::server {

struct ListenerPlan {
  const config::ListenerConfig* config = nullptr;
  int fd = -1;
  uint16_t port = 0;
  std::unique_ptr<proxy::RouteTable> routes;
  std::vector<std::shared_ptr<proxy::HttpFilterDefinition>> filters;
  // Per filter: the histogram of microseconds a request spends inside it.
  std::vector<stats::Histogram*> filter_time_us;
  std::shared_ptr<access_log::ListenerAccessLogs> access_logs;
  std::unique_ptr<proxy::ConnectionManagerStats> stats;
};

}  // namespace weir::server
