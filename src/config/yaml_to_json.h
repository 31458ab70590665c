#pragma once
// Compact JSON for a YAML value: how weir hands a google.protobuf.Struct plugin
// configuration to plugins (the JSON Istio and Higress give them in a StringValue).
#include <yaml-cpp/yaml.h>

#include <string>

namespace weir::config {

// Scalars are typed the way Envoy's YAML reader types them: quoted -> string; plain ->
// bool (yaml-cpp's spellings), else integer, else number, else string; ~/null/empty ->
// null. 64-bit integers beyond 2^53, which a double cannot hold exactly, become strings
// (protobuf's JSON mapping prints int64 that way); larger ones are numbers, as in Envoy.
// Non-finite numbers (.inf, .nan) become strings: JSON has no spelling for them. Mapping
// keys keep their order.
std::string yaml_to_json(const YAML::Node& node);

// `text` as a JSON string literal, quotes included.
std::string json_quote(const std::string& text);

}  // namespace weir::config
