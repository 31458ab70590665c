#pragma once
// Fields Envoy's API has that weir does not implement yet, in two kinds:
// - ignored: leaving the field out only loses a feature. A config using one loads, with a
//   warning per field, never silently.
// - refused: leaving it out would weaken security (TLS, authorization, header
//   sanitizing, route match constraints, protective limits). A config using one fails
//   to load, unless its value asks for nothing (an empty list, false, the default enum
//   value): weir never runs with less security than the config asks for.
// docs/configuration.md lists both kinds.
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

namespace weir::config {

// `message_type` is a full proto name (see envoy_names.h), `field` a snake_case name.
bool is_known_unimplemented_field(std::string_view message_type, std::string_view field);

struct RefusedField {
  // What weir would silently lose, for the error message: "TLS", "authorization", ...
  std::string_view protects;
  // Scalar values (compared ignoring case) that ask for nothing, so ignoring them is
  // harmless; null, {} and [] always are.
  std::vector<std::string_view> harmless_values;
};

// The refusal for a field, when it is one weir must not ignore.
std::optional<RefusedField> find_refused_field(std::string_view message_type,
                                               std::string_view field);

}  // namespace weir::config
