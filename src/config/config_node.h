#pragma once
// A read cursor over the parsed YAML that knows its yaml path and source position, so
// every error and warning can say where it comes from. Internal to src/config: the only
// header outside yaml-cpp itself that exposes YAML types.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace weir::config {

// Ends loading with a finished "file:line:column: message (at path)" text. The loaders
// nest six levels deep; carrying a Result up through each would bury what they read.
// Caught only by load_bootstrap_*.
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One key of layered_runtime's static layers, flattened ("re2.max_program_size.error_level").
struct RuntimeEntry {
  std::string value;  // the scalar as written
  SourceLocation location;
  bool read = false;  // some loader used it (the others draw a warning)
};

// What a whole load shares: where the text came from, the options, the warnings so far,
// and the runtime keys (read first: they set limits the rest of the load applies).
struct LoadContext {
  std::string file;
  LoadOptions options;
  std::vector<std::string> warnings;
  std::map<std::string, RuntimeEntry, std::less<>> runtime;
  // re2.max_program_size.error_level / .warn_level, from the runtime.
  uint32_t regex_max_program_size = Regex::kDefaultMaxProgramSize;
  uint32_t regex_warn_program_size = UINT32_MAX;
};

template <typename Enum>
struct EnumName {
  std::string_view name;
  Enum value;
};

class ConfigNode {
 public:
  static ConfigNode document(const YAML::Node& root, LoadContext& context);

  // False for an absent field and for an explicit null, which protobuf's JSON mapping
  // reads as "not set". Reading an absent node's fields gives absent nodes.
  bool present() const;
  bool is_mapping() const { return present() && node_.IsMap(); }
  bool is_sequence() const { return present() && node_.IsSequence(); }
  bool is_scalar() const { return present() && node_.IsScalar(); }

  const std::string& path() const { return path_; }
  SourceLocation location() const;
  LoadContext& context() const { return *context_; }
  const YAML::Node& yaml() const { return node_; }

  [[noreturn]] void fail(std::string_view message) const;
  void warn(std::string_view message) const;
  std::string kind_name() const;  // "a mapping", "a list", "\"text\"", for messages

  // --- mappings (protobuf messages) ---
  // Checks every key of this mapping: one of `fields` (what weir reads), else a field
  // Envoy's `message_type` has that weir does not implement (warning), else unknown
  // (error, or a warning with allow_unknown_fields). Also refuses duplicate keys. Keys
  // may be written in protobuf's lowerCamelCase JSON form too, as Envoy allows.
  void expect_fields(std::string_view message_type,
                     std::initializer_list<std::string_view> fields) const;
  // The same node, read as a google.protobuf.Any: "@type" is then a legal key.
  ConfigNode as_any() const;
  ConfigNode field(std::string_view name) const;     // absent node when not there
  ConfigNode required(std::string_view name) const;  // fails when absent or null
  bool has(std::string_view name) const { return field(name).present(); }
  // A map<string, ...> field: keys as written, with their values.
  std::vector<std::pair<std::string, ConfigNode>> entries() const;

  // --- repeated fields ---
  // The elements of a list; a single mapping where a list belongs counts as a list of
  // one (seen in real Envoy example files). Empty when absent.
  std::vector<ConfigNode> items() const;

  // --- scalars ---
  std::string as_string() const;
  std::string as_nonempty_string() const;
  bool as_bool() const;
  uint64_t as_uint(uint64_t min, uint64_t max) const;
  // A google.protobuf.Duration: "1.5s" or {seconds, nanos}.
  std::chrono::milliseconds as_duration() const;
  // Enum names compare case-insensitively (`strict_dns`, `auto` occur in real files).
  template <typename Enum>
  Enum as_enum(std::initializer_list<EnumName<Enum>> names) const {
    const std::string text = as_string();
    for (const auto& entry : names) {
      if (equals_ignoring_case(text, entry.name)) return entry.value;
    }
    std::string expected;
    for (const auto& entry : names) {
      if (!expected.empty()) expected += ", ";
      expected += entry.name;
    }
    fail("unsupported value \"" + text + "\": weir implements " + expected);
  }

 private:
  ConfigNode(const YAML::Node& node, YAML::Mark mark, std::string path, LoadContext* context);

  ConfigNode child(const YAML::Node& key, const YAML::Node& value) const;
  static bool equals_ignoring_case(std::string_view a, std::string_view b);

  YAML::Node node_;
  YAML::Mark mark_;
  std::string path_;
  LoadContext* context_;
  bool is_any_ = false;
};

// protobuf's JSON name to its field name: "rootId" -> "root_id". Others unchanged.
std::string to_snake_case(std::string_view key);

}  // namespace weir::config
