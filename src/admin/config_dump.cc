#include "admin/config_dump.h"

#include <yaml-cpp/yaml.h>

#include "config/yaml_to_json.h"

namespace weir::admin {

std::string config_dump_json(const std::string& config_path) {
  std::string bootstrap = "{}";
  try {
    bootstrap = config::yaml_to_json(YAML::LoadFile(config_path));
  } catch (const YAML::Exception&) {
    // The file changed or vanished since it loaded: show an empty bootstrap.
  }
  return "{\"configs\":[{\"@type\":\"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump\","
         "\"bootstrap\":" +
         bootstrap + "}]}\n";
}

}  // namespace weir::admin
