#pragma once
// GET /config_dump: the bootstrap weir loaded, as JSON in Envoy's ConfigDump envelope.
#include <chrono>
#include <string>

namespace weir::admin {

// Reads `config_path` again (it loaded a moment ago) and returns
// {"configs":[{"@type":"…BootstrapConfigDump","bootstrap":{…}}]}.
std::string config_dump_json(const std::string& config_path);
// The bootstrap from YAML text already read, with Envoy's `last_updated` (RFC 3339, UTC):
// when that configuration went live (start-up or the reload that loaded it).
std::string config_dump_json_from_text(const std::string& yaml,
                                       std::chrono::system_clock::time_point last_updated);

}  // namespace weir::admin
