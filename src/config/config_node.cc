#include "config/config_node.h"

#include <cctype>
#include <set>

#include "config/duration.h"
#include "config/envoy_names.h"
#include "config/unimplemented_fields.h"

namespace weir::config {
namespace {

constexpr std::string_view kTypeKey = "@type";

bool has_position(const YAML::Mark& mark) { return mark.line >= 0 && mark.column >= 0; }

std::string join(std::initializer_list<std::string_view> words) {
  std::string text;
  for (std::string_view word : words) {
    if (!text.empty()) text += ", ";
    text += word;
  }
  return text;
}

// A value that asks for nothing, so ignoring it loses nothing: null, {}, [], or one of
// `harmless` (ignoring case).
bool asks_for_nothing(const ConfigNode& value, const std::vector<std::string_view>& harmless) {
  if (!value.present()) return true;
  const YAML::Node& node = value.yaml();
  if ((node.IsMap() || node.IsSequence()) && node.size() == 0) return true;
  if (!node.IsScalar()) return false;
  for (std::string_view candidate : harmless) {
    const std::string& text = node.Scalar();
    if (text.size() != candidate.size()) continue;
    bool same = true;
    for (size_t i = 0; i < text.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(text[i])) ==
             std::tolower(static_cast<unsigned char>(candidate[i]));
    }
    if (same) return true;
  }
  return false;
}

}  // namespace

std::string to_snake_case(std::string_view key) {
  std::string name;
  for (char c : key) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      name += '_';
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      name += c;
    }
  }
  // "Foo" or "foo_Bar" are not protobuf JSON names: leave them, they will be unknown.
  if (name.starts_with('_') || key.find('_') != std::string_view::npos) return std::string(key);
  return name;
}

ConfigNode::ConfigNode(const YAML::Node& node, YAML::Mark mark, std::string path,
                       LoadContext* context)
    : node_(node), mark_(mark), path_(std::move(path)), context_(context) {}

ConfigNode ConfigNode::document(const YAML::Node& root, LoadContext& context) {
  YAML::Mark mark = root.Mark();
  if (!has_position(mark)) mark = YAML::Mark();  // an empty document: point at 1:1
  return ConfigNode(root, mark, "", &context);
}

bool ConfigNode::present() const { return node_.IsDefined() && !node_.IsNull(); }

SourceLocation ConfigNode::location() const {
  SourceLocation where;
  where.file = context_->file;
  where.line = has_position(mark_) ? mark_.line + 1 : 1;
  where.column = has_position(mark_) ? mark_.column + 1 : 1;
  where.yaml_path = path_;
  return where;
}

void ConfigNode::fail(std::string_view message) const {
  throw LoadError(location().format_message(message));
}

void ConfigNode::warn(std::string_view message) const {
  context_->warnings.push_back(location().format_message(message));
}

ConfigNode ConfigNode::child(const YAML::Node& key, const YAML::Node& value) const {
  // An empty value ("name:") has no useful position of its own; its key has.
  const YAML::Mark mark = value.IsNull() || !has_position(value.Mark()) ? key.Mark() : value.Mark();
  std::string path = path_.empty() ? key.Scalar() : path_ + "." + key.Scalar();
  return ConfigNode(value, mark, std::move(path), context_);
}

void ConfigNode::expect_fields(std::string_view message_type,
                               std::initializer_list<std::string_view> fields) const {
  if (!present()) return;
  if (!node_.IsMap()) {
    fail("expected a mapping (" + std::string(message_type) + "), got " + kind_name());
  }
  std::set<std::string> seen;
  for (const auto& entry : node_) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      ConfigNode(key, key.Mark(), path_, context_).fail("a field name must be a string");
    }
    const ConfigNode at_key(key, key.Mark(),
                            path_.empty() ? key.Scalar() : path_ + "." + key.Scalar(), context_);
    const std::string name = to_snake_case(key.Scalar());
    if (!seen.insert(name).second) at_key.fail("duplicate field \"" + key.Scalar() + "\"");

    if (name == kTypeKey && is_any_) continue;
    bool implemented = false;
    for (std::string_view field : fields) implemented = implemented || field == name;
    if (implemented) continue;

    if (auto refusal = find_refused_field(message_type, name)) {
      const ConfigNode value = child(key, entry.second);
      if (!asks_for_nothing(value, refusal->harmless_values)) {
        at_key.fail("field \"" + key.Scalar() + "\" of " + std::string(message_type) + " (" +
                    std::string(refusal->protects) +
                    ") is not implemented by weir yet: refusing to start rather than run with "
                    "less security");
      }
      at_key.warn("field \"" + key.Scalar() + "\" of " + std::string(message_type) +
                  " is not implemented by weir and is ignored (its value asks for nothing)");
    } else if (is_known_unimplemented_field(message_type, name)) {
      at_key.warn("field \"" + key.Scalar() + "\" of " + std::string(message_type) +
                  " is not implemented by weir and is ignored");
    } else if (context_->options.allow_unknown_fields) {
      at_key.warn("unknown field \"" + key.Scalar() + "\" in " + std::string(message_type) +
                  " ignored (unknown fields allowed)");
    } else {
      at_key.fail("unknown field \"" + key.Scalar() + "\" in " + std::string(message_type) +
                  " (weir reads: " + join(fields) + ")");
    }
  }
}

ConfigNode ConfigNode::as_any() const {
  ConfigNode any = *this;
  any.is_any_ = true;
  return any;
}

ConfigNode ConfigNode::field(std::string_view name) const {
  std::string path = path_.empty() ? std::string(name) : path_ + "." + std::string(name);
  if (is_mapping()) {
    for (const auto& entry : node_) {
      if (entry.first.IsScalar() && to_snake_case(entry.first.Scalar()) == name) {
        return child(entry.first, entry.second);
      }
    }
  }
  return ConfigNode(YAML::Node(YAML::NodeType::Undefined), mark_, std::move(path), context_);
}

ConfigNode ConfigNode::required(std::string_view name) const {
  ConfigNode value = field(name);
  if (!value.present()) fail("missing required field \"" + std::string(name) + "\"");
  return value;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  std::vector<std::pair<std::string, ConfigNode>> result;
  if (!present()) return result;
  if (!node_.IsMap()) fail("expected a mapping, got " + kind_name());
  for (const auto& entry : node_) {
    if (!entry.first.IsScalar()) {
      ConfigNode(entry.first, entry.first.Mark(), path_, context_).fail("a key must be a string");
    }
    result.emplace_back(entry.first.Scalar(), child(entry.first, entry.second));
  }
  return result;
}

std::vector<ConfigNode> ConfigNode::items() const {
  std::vector<ConfigNode> result;
  if (!present()) return result;
  if (node_.IsMap()) {
    result.push_back(*this);
    return result;
  }
  if (!node_.IsSequence()) fail("expected a list, got " + kind_name());
  size_t index = 0;
  for (const auto& element : node_) {
    const YAML::Mark mark = has_position(element.Mark()) ? element.Mark() : mark_;
    result.push_back(
        ConfigNode(element, mark, path_ + "[" + std::to_string(index) + "]", context_));
    ++index;
  }
  return result;
}

std::string ConfigNode::as_string() const {
  if (!is_scalar()) fail("expected a string, got " + kind_name());
  return node_.Scalar();
}

std::string ConfigNode::as_nonempty_string() const {
  std::string text = as_string();
  if (text.empty()) fail("must not be empty");
  return text;
}

bool ConfigNode::as_bool() const {
  bool value = false;
  if (!is_scalar() || !YAML::convert<bool>::decode(node_, value)) {
    fail("expected true or false, got " + kind_name());
  }
  return value;
}

uint64_t ConfigNode::as_uint(uint64_t min, uint64_t max) const {
  const std::string expected =
      "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!is_scalar()) fail(expected + ", got " + kind_name());
  const std::string& text = node_.Scalar();
  uint64_t value = 0;
  bool valid = !text.empty() && text.size() <= 20;
  for (char c : text) {
    if (c < '0' || c > '9') {
      valid = false;
      break;
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      valid = false;
      break;
    }
    value = value * 10 + digit;
  }
  if (!valid || value < min || value > max) fail(expected + ", got " + kind_name());
  return value;
}

std::chrono::milliseconds ConfigNode::as_duration() const {
  if (is_mapping()) {
    expect_fields(envoy_names::kDuration, {"seconds", "nanos"});
    ProtoDuration duration;
    const ConfigNode seconds = field("seconds");
    const ConfigNode nanos = field("nanos");
    if (seconds.present()) {
      duration.seconds = static_cast<int64_t>(seconds.as_uint(0, kMaxDurationSeconds));
    }
    if (nanos.present()) duration.nanos = static_cast<int32_t>(nanos.as_uint(0, 999'999'999));
    return to_milliseconds(duration);
  }
  std::optional<ProtoDuration> duration;
  if (is_scalar()) duration = parse_duration_text(node_.Scalar());
  if (!duration) {
    fail(
        "expected a duration: seconds with an \"s\" suffix such as \"0.25s\" or \"5s\", or "
        "{seconds, nanos}; got " +
        kind_name());
  }
  return to_milliseconds(*duration);
}

std::string ConfigNode::kind_name() const {
  if (!present()) return "nothing";
  if (node_.IsMap()) return "a mapping";
  if (node_.IsSequence()) return "a list";
  return "\"" + node_.Scalar() + "\"";
}

bool ConfigNode::equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace weir::config
