#include "admin/config_dump.h"

#include "config/config_file_json.h"

namespace weir::admin {

std::string config_dump_json(const std::string& config_path) {
  // The file changed or vanished since it loaded: show an empty bootstrap.
  std::string bootstrap = config::config_file_as_json(config_path).value_or("{}");
  return "{\"configs\":[{\"@type\":\"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump\","
         "\"bootstrap\":" +
         bootstrap + "}]}\n";
}

}  // namespace weir::admin
