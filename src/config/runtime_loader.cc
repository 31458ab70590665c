// Bootstrap.layered_runtime: the keys of its static layers, flattened as Envoy does
// ({re2: {max_program_size: {error_level: 1000}}} is "re2.max_program_size.error_level"),
// a later layer overriding an earlier one. Read before everything else: the keys set
// limits the rest of the load applies.
#include <charconv>

#include "config/envoy_names.h"
#include "config/loaders.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

void flatten(const ConfigNode& node, const std::string& prefix, LoadContext& context) {
  for (const auto& [key, value] : node.entries()) {
    std::string name = prefix;
    if (!name.empty()) name += '.';
    name += key;
    if (value.is_mapping()) {
      flatten(value, name, context);
    } else if (value.is_sequence()) {
      value.fail("a runtime value must be a number, a string or a boolean, not a list");
    } else if (value.present()) {
      context.runtime.insert_or_assign(name, RuntimeEntry{value.as_string(), value.location()});
    }
  }
}

}  // namespace

void load_layered_runtime(const ConfigNode& layered_runtime) {
  if (!layered_runtime.present()) return;
  LoadContext& context = layered_runtime.context();
  layered_runtime.expect_fields(names::kLayeredRuntime, {"layers"});
  for (const ConfigNode& layer : layered_runtime.field("layers").items()) {
    layer.expect_fields(names::kRuntimeLayer, {"name", "static_layer"});
    layer.required("name").as_nonempty_string();
    flatten(layer.field("static_layer"), "", context);
  }
}

std::optional<uint64_t> runtime_uint(LoadContext& context, std::string_view key, uint64_t min,
                                     uint64_t max) {
  auto it = context.runtime.find(key);
  if (it == context.runtime.end()) return std::nullopt;
  RuntimeEntry& entry = it->second;
  entry.read = true;
  uint64_t value = 0;
  const char* end = entry.value.data() + entry.value.size();
  auto [at, error] = std::from_chars(entry.value.data(), end, value);
  if (error != std::errc() || at != end || value < min || value > max) {
    throw LoadError(entry.location.format_message(
        "runtime key " + std::string(key) + " takes an integer from " + std::to_string(min) +
        " to " + std::to_string(max) + ", got \"" + entry.value + "\""));
  }
  return value;
}

void warn_unread_runtime_keys(LoadContext& context) {
  for (const auto& [key, entry] : context.runtime) {
    if (entry.read) continue;
    context.warnings.push_back(entry.location.format_message(
        "runtime key " + key + " is not used by weir and has no effect"));
  }
}

}  // namespace weir::config
