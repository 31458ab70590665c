#pragma once
// GET /config_dump: the bootstrap weir loaded, as JSON in Envoy's ConfigDump envelope.
#include <string>

namespace weir::admin {

// Reads `config_path` again (it loaded a moment ago) and returns
// {"configs":[{"@type":"…BootstrapConfigDump","bootstrap":{…}}]}.
std::string config_dump_json(const std::string& config_path);

}  // namespace weir::admin
