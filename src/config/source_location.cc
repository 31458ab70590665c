#include <string>
#include <string_view>

#include "config/config.h"

namespace weir::config {

std::string SourceLocation::to_string() const {
  std::string text = file + ":" + std::to_string(line) + ":" + std::to_string(column);
  if (!yaml_path.empty()) text += " (" + yaml_path + ")";
  return text;
}

std::string SourceLocation::format_message(std::string_view message) const {
  std::string text = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  text += message;
  if (!yaml_path.empty()) text += " (at " + yaml_path + ")";
  return text;
}

}  // namespace weir::config
