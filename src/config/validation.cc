#include "config/validation.h"

#include <map>
#include <set>
#include <string>

namespace weir::config {
namespace {

std::string position(const SourceLocation& location) {
  return location.file + ":" + std::to_string(location.line) + ":" +
         std::to_string(location.column);
}

std::string quoted_list(const std::set<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "\"" : ", \"") + name + "\"";
  return text.empty() ? "none" : text;
}

Status check_unique_names(const BootstrapConfig& config) {
  std::map<std::string, const SourceLocation*> listeners;
  std::map<std::string, const SourceLocation*> addresses;
  for (const ListenerConfig& listener : config.listeners) {
    auto [it, inserted] = listeners.emplace(listener.name, &listener.location);
    if (!inserted) {
      return Error{listener.location.format_message("duplicate listener name \"" + listener.name +
                                                    "\" (first at " + position(*it->second) + ")")};
    }
    const std::string address =
        listener.address.address + ":" + std::to_string(listener.address.port);
    auto [at, fresh] = addresses.emplace(address, &listener.location);
    if (!fresh) {
      return Error{listener.location.format_message("listener address " + address +
                                                    " is already used by the listener at " +
                                                    position(*at->second))};
    }
  }
  std::map<std::string, const SourceLocation*> clusters;
  for (const ClusterConfig& cluster : config.clusters) {
    auto [it, inserted] = clusters.emplace(cluster.name, &cluster.location);
    if (!inserted) {
      return Error{cluster.location.format_message("duplicate cluster name \"" + cluster.name +
                                                   "\" (first at " + position(*it->second) + ")")};
    }
  }
  return Ok{};
}

Status check_route_clusters(const BootstrapConfig& config) {
  std::set<std::string> cluster_names;
  for (const ClusterConfig& cluster : config.clusters) cluster_names.insert(cluster.name);
  for (const ListenerConfig& listener : config.listeners) {
    if (listener.tcp_proxy && !cluster_names.contains(listener.tcp_proxy->cluster)) {
      return Error{listener.tcp_proxy->location.format_message(
          "tcp_proxy to unknown cluster \"" + listener.tcp_proxy->cluster +
          "\" (clusters: " + quoted_list(cluster_names) + ")")};
    }
    for (const VirtualHost& virtual_host : listener.http.route_config.virtual_hosts) {
      for (const Route& route : virtual_host.routes) {
        if (route.route && !cluster_names.contains(route.route->cluster)) {
          return Error{
              route.location.format_message("route to unknown cluster \"" + route.route->cluster +
                                            "\" (clusters: " + quoted_list(cluster_names) + ")")};
        }
      }
    }
  }
  return Ok{};
}

}  // namespace

Status validate_bootstrap(const BootstrapConfig& config) {
  if (config.listeners.empty() && !config.admin) {
    SourceLocation top{config.source_file, 1, 1, "static_resources.listeners"};
    return Error{top.format_message("nothing to serve: no listener and no admin address")};
  }
  if (Status names = check_unique_names(config); !names.ok()) return names;
  return check_route_clusters(config);
}

}  // namespace weir::config
