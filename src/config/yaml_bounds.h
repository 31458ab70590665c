#pragma once
// Bounds on the shape of a parsed YAML document, checked before anything walks it. YAML
// aliases make a document a graph: `a: &x [*x]` is a cycle (an endless walk) and a few
// lines of aliases to aliases expand to billions of nodes. Every walk weir makes (the
// loaders, the JSON conversion for plugin configuration, /config_dump) is safe after this.
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

namespace weir::config {

// protobuf's default recursion limit, which bounds Envoy's config the same way.
constexpr int kMaxYamlDepth = 100;
// Nodes counted with aliases expanded: a config with tens of thousands of routes is far
// below it; walking that many takes milliseconds.
constexpr size_t kMaxYamlNodes = 1'000'000;

// Why `root` is out of bounds ("line:column: ..."), or nothing.
std::optional<std::string> yaml_out_of_bounds(const YAML::Node& root);

}  // namespace weir::config
