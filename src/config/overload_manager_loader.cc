// Bootstrap.overload_manager. weir implements one resource monitor, the global limit on
// downstream connections; the overload actions it would take on other monitors are not
// implemented and refused (unimplemented_fields.cc), so other monitors are inert.
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

// The deprecated runtime key Envoy read before the resource monitor existed.
constexpr std::string_view kRuntimeGlobalLimit = "overload.global_downstream_max_connections";

bool is_downstream_connections_monitor(const ConfigNode& monitor) {
  const std::string type = typed_config_type(monitor.field("typed_config"));
  if (!type.empty()) return type == names::kDownstreamConnectionsConfig;
  const std::string name = monitor.required("name").as_string();
  return name == names::kGlobalDownstreamMaxConnections ||
         name == names::kDownstreamConnectionsName;
}

}  // namespace

OverloadConfig load_overload_manager(const ConfigNode& overload_manager) {
  OverloadConfig result;
  LoadContext& context = overload_manager.context();
  const std::optional<uint64_t> runtime_limit =
      runtime_uint(context, kRuntimeGlobalLimit, 0, INT64_MAX);
  overload_manager.expect_fields(names::kOverloadManager,
                                 {"refresh_interval", "resource_monitors"});
  if (overload_manager.has("refresh_interval")) {
    overload_manager.field("refresh_interval").as_duration();  // checked; no monitor polls
  }
  ConfigNode monitor_node = overload_manager;
  for (const ConfigNode& monitor : overload_manager.field("resource_monitors").items()) {
    monitor.expect_fields(names::kResourceMonitor, {"name", "typed_config"});
    const std::string name = monitor.required("name").as_nonempty_string();
    if (!is_downstream_connections_monitor(monitor)) {
      monitor.warn("resource monitor \"" + name +
                   "\" is not implemented by weir and is ignored (no overload action could use "
                   "it: weir refuses overload actions)");
      continue;
    }
    if (result.max_active_downstream_connections) {
      monitor.fail("the downstream connections resource monitor is configured twice");
    }
    const ConfigNode config =
        typed_config_body(monitor.required("typed_config"), names::kDownstreamConnectionsConfig);
    config.expect_fields(names::kDownstreamConnectionsConfig,
                         {"max_active_downstream_connections"});
    // Envoy: must be set, and greater than 0.
    result.max_active_downstream_connections =
        config.required("max_active_downstream_connections").as_uint(1, INT64_MAX);
    monitor_node = monitor;
  }
  if (runtime_limit) {
    if (result.max_active_downstream_connections) {
      monitor_node.warn("runtime key " + std::string(kRuntimeGlobalLimit) +
                        " is ignored: the downstream connections resource monitor sets the "
                        "global limit");
    } else {
      result.max_active_downstream_connections = runtime_limit;
    }
  }
  return result;
}

}  // namespace weir::config
