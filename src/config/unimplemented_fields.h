#pragma once
// Fields Envoy's API has and weir accepts without acting on them. The one list of them:
// a config using one loads with a warning per field, never silently.
#include <string_view>

namespace weir::config {

// `message_type` is a full proto name (see envoy_names.h), `field` a snake_case name.
bool is_known_unimplemented_field(std::string_view message_type, std::string_view field);

}  // namespace weir::config
