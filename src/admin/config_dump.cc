#include "admin/config_dump.h"

#include <cstdio>
#include <ctime>

#include "config/config_file_json.h"

namespace weir::admin {

std::string config_dump_json(const std::string& config_path) {
  // The file changed or vanished since it loaded: show an empty bootstrap.
  std::string bootstrap = config::config_file_as_json(config_path).value_or("{}");
  return "{\"configs\":[{\"@type\":\"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump\","
         "\"bootstrap\":" +
         bootstrap + "}]}\n";
}

std::string config_dump_json_from_text(const std::string& yaml,
                                       std::chrono::system_clock::time_point last_updated) {
  std::string bootstrap = config::config_text_as_json(yaml).value_or("{}");
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(last_updated.time_since_epoch())
          .count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return "{\"configs\":[{\"@type\":\"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump\","
         "\"bootstrap\":" +
         bootstrap + ",\"last_updated\":\"" + stamp + "\"}]}\n";
}

}  // namespace weir::admin
