#include "server/listener_plan.h"

namespace weir::server {

ListenerAcceptStats ListenerAcceptStats::create(stats::StatsStore& store,
                                                const std::string& stat_name,
                                                bool global_limit_configured) {
  const std::string prefix = "listener." + stat_name + ".";
  ListenerAcceptStats stats{store.counter(prefix + "downstream_cx_overflow"),
                            store.counter(prefix + "downstream_global_cx_overflow"),
                            store.counter(prefix + "downstream_cx_accept_paused")};
  if (global_limit_configured) {
    stats.global_limit_failed_updates = &store.counter(
        "overload.envoy.resource_monitors.global_downstream_max_connections.failed_updates");
  }
  return stats;
}

std::optional<ConnectionLeases> admit_connection(net::ConnectionLimit* global,
                                                 net::ConnectionLimit* listener,
                                                 ListenerAcceptStats& stats) {
  ConnectionLeases leases;
  // The global limit first, as Envoy checks it before the listener's.
  if (global) {
    auto lease = global->try_acquire();
    if (!lease) {
      stats.downstream_global_cx_overflow.inc();
      if (stats.global_limit_failed_updates) stats.global_limit_failed_updates->inc();
      return std::nullopt;
    }
    leases.global = std::move(*lease);
  }
  if (listener) {
    auto lease = listener->try_acquire();
    if (!lease) {
      stats.downstream_cx_overflow.inc();
      return std::nullopt;
    }
    leases.listener = std::move(*lease);
  }
  return leases;
}

}  // namespace weir::server
