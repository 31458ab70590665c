#pragma once
// Everything about one listener that is decided once on the main thread and shared by
// the workers: its bound socket, routes, filter definitions and stats.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "access_log/access_logger.h"
#include "config/config.h"
#include "extensions/filters/network/network_filter.h"
#include "extensions/filters/network/tcp_proxy/tcp_proxy.h"
#include "net/connection_limit.h"
#include "net/tls/tls_context.h"
#include "net/tls/tls_inspector.h"
#include "proxy/connection_manager_setup.h"
#include "proxy/http_filter.h"
#include "proxy/route_table.h"

namespace weir::server {

// Connections a listener refused or delayed at accept (Envoy's listener.<address>.*
// names; downstream_cx_accept_paused is weir's own).
struct ListenerAcceptStats {
  stats::Counter& downstream_cx_overflow;         // past the listener's connection limit
  stats::Counter& downstream_global_cx_overflow;  // past the global connection limit
  // accept() ran out of file descriptors or memory; accepting paused for 500 ms.
  stats::Counter& downstream_cx_accept_paused;
  // overload.<monitor>.failed_updates: the global limit refused a connection (null when
  // no global limit is configured).
  stats::Counter* global_limit_failed_updates = nullptr;

  // `stat_name`: "admin" or the listener's address as 127.0.0.1_8080.
  static ListenerAcceptStats create(stats::StatsStore& store, const std::string& stat_name,
                                    bool global_limit_configured);
};

// Checks the global and the listener's limits for a connection just accepted: the leases
// to keep while it is open, or nullopt (counted) when it must be closed at once, as Envoy
// does.
struct ConnectionLeases {
  net::ConnectionLimit::Lease global;
  net::ConnectionLimit::Lease listener;
};
std::optional<ConnectionLeases> admit_connection(net::ConnectionLimit* global,
                                                 net::ConnectionLimit* listener,
                                                 ListenerAcceptStats& stats);

struct ListenerPlan {
  const config::ListenerConfig* config = nullptr;
  int fd = -1;
  uint16_t port = 0;
  std::unique_ptr<proxy::RouteTable> routes;
  std::vector<std::shared_ptr<proxy::HttpFilterDefinition>> filters;
  std::shared_ptr<access_log::ListenerAccessLogs> access_logs;
  std::unique_ptr<proxy::ConnectionManagerStats> stats;
  std::unique_ptr<ListenerAcceptStats> accept_stats;
  // A tcp_proxy listener (config->tcp_proxy set): its network filters and stats; the
  // HTTP fields above stay empty.
  std::vector<std::shared_ptr<extensions::network::NetworkFilterDefinition>> network_filters;
  std::unique_ptr<extensions::tcp_proxy::TcpProxyStats> tcp_stats;
  // Open connections of this listener across workers, with its runtime limit if any.
  std::unique_ptr<net::ConnectionLimit> connections;
  // The filter chains' TLS contexts, chosen by SNI; null for a plaintext listener.
  std::unique_ptr<net::tls::ServerContext> tls;
  // Set when TLS and plaintext chains share the listener: each connection is inspected.
  std::unique_ptr<net::tls::TlsInspectorConfig> tls_inspector;
};

}  // namespace weir::server
