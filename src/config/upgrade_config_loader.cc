// upgrade_configs: on the HttpConnectionManager (which Upgrade protocols may be tunnelled)
// and on a route (switching them on or off there).
#include <cctype>

#include "config/envoy_names.h"
#include "config/loaders.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The fields both messages share. An upgrade_type weir can tunnel is an HTTP token other
// than CONNECT (whose tunnel is not an upgrade of an HTTP/1 exchange).
UpgradeConfig load_upgrade_config(const ConfigNode& entry) {
  UpgradeConfig upgrade;
  const ConfigNode type = entry.required("upgrade_type");
  upgrade.upgrade_type = type.as_nonempty_string();
  for (char c : upgrade.upgrade_type) {
    if (!is_tchar(c)) type.fail("upgrade_type must be an HTTP token");
  }
  std::string upper;
  for (char c : upgrade.upgrade_type) {
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (upper == "CONNECT" || upper == "CONNECT-UDP") {
    type.fail("upgrade_configs with upgrade_type " + upgrade.upgrade_type +
              ": CONNECT is not implemented by weir");
  }
  if (entry.has("enabled")) upgrade.enabled = entry.field("enabled").as_bool();
  return upgrade;
}

}  // namespace

std::vector<UpgradeConfig> load_hcm_upgrade_configs(const ConfigNode& upgrade_configs) {
  std::vector<UpgradeConfig> result;
  for (const ConfigNode& entry : upgrade_configs.items()) {
    entry.expect_fields(names::kHcmUpgradeConfig, {"upgrade_type", "enabled", "filters"});
    // A filter chain of its own would run other filters (an auth filter, say) than the
    // ones weir would run: refused rather than served with the wrong filters.
    if (entry.has("filters")) {
      entry.field("filters").fail(
          "upgrade_configs[].filters (a filter chain for upgrades) is not implemented by weir: "
          "upgrades run the connection manager's http_filters");
    }
    result.push_back(load_upgrade_config(entry));
  }
  return result;
}

std::vector<UpgradeConfig> load_route_upgrade_configs(const ConfigNode& upgrade_configs) {
  std::vector<UpgradeConfig> result;
  for (const ConfigNode& entry : upgrade_configs.items()) {
    entry.expect_fields(names::kRouteUpgradeConfig, {"upgrade_type", "enabled", "connect_config"});
    if (entry.has("connect_config")) {
      entry.field("connect_config")
          .fail(
              "upgrade_configs[].connect_config: CONNECT is not "
              "implemented by weir");
    }
    result.push_back(load_upgrade_config(entry));
  }
  return result;
}

}  // namespace weir::config
