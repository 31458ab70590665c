#pragma once
// The bootstrap file as JSON, for the admin's /config_dump: the only YAML reading
// outside the config loader, kept here so that src/config stays the only code that knows
// YAML.
#include <optional>
#include <string>

namespace weir::config {

// The YAML file at `path` as compact JSON (see yaml_to_json), or nullopt if it cannot be
// read or parsed now.
std::optional<std::string> config_file_as_json(const std::string& path);
// The same for YAML text already read (a reload shows exactly the text it loaded).
std::optional<std::string> config_text_as_json(const std::string& yaml);

}  // namespace weir::config
