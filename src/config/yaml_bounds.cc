#include "config/yaml_bounds.h"

#include <utility>
#include <vector>

namespace weir::config {

std::optional<std::string> yaml_out_of_bounds(const YAML::Node& root) {
  // Iterative, so that the check itself needs no stack however deep the document.
  std::vector<std::pair<YAML::Node, int>> pending{{root, 0}};
  size_t visited = 0;
  auto where = [](const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
  };
  while (!pending.empty()) {
    auto [node, depth] = std::move(pending.back());
    pending.pop_back();
    if (++visited > kMaxYamlNodes) {
      return where(node) + "more than " + std::to_string(kMaxYamlNodes) +
             " YAML nodes once aliases are expanded";
    }
    if (depth > kMaxYamlDepth) {
      return where(node) + "YAML nested deeper than " + std::to_string(kMaxYamlDepth) +
             " levels (an alias inside its own anchor is endless)";
    }
    if (node.IsMap()) {
      for (const auto& entry : node) {
        pending.emplace_back(entry.first, depth + 1);
        pending.emplace_back(entry.second, depth + 1);
      }
    } else if (node.IsSequence()) {
      for (const auto& element : node) pending.emplace_back(element, depth + 1);
    }
  }
  return std::nullopt;
}

}  // namespace weir::config
