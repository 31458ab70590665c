#include "config/yaml_to_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace weir::config {
namespace {

// Integers a double (JSON's number, protobuf's Struct number_value) holds exactly.
constexpr int64_t kMaxExactInteger = int64_t{1} << 53;

bool is_quoted_or_tagged_string(const YAML::Node& node) {
  // yaml-cpp tags plain scalars "?" and quoted ones "!".
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

std::string scalar_to_json(const YAML::Node& node) {
  if (is_quoted_or_tagged_string(node)) return json_quote(node.Scalar());

  bool boolean = false;
  if (YAML::convert<bool>::decode(node, boolean)) return boolean ? "true" : "false";

  int64_t integer = 0;
  if (YAML::convert<int64_t>::decode(node, integer)) {
    std::string digits = std::to_string(integer);
    if (integer > kMaxExactInteger || integer < -kMaxExactInteger) return json_quote(digits);
    return digits;
  }

  double number = 0;
  if (YAML::convert<double>::decode(node, number)) {
    if (!std::isfinite(number)) return json_quote(node.Scalar());
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), number);
    return std::string(buffer, result.ptr);
  }
  return json_quote(node.Scalar());
}

void append_json(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (const auto& entry : node) {
        if (!first) out += ',';
        first = false;
        out += json_quote(entry.first.Scalar());
        out += ':';
        append_json(entry.second, out);
      }
      out += '}';
      return;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& element : node) {
        if (!first) out += ',';
        first = false;
        append_json(element, out);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Scalar:
      out += scalar_to_json(node);
      return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += "null";
      return;
  }
}

}  // namespace

std::string json_quote(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        quoted += "\\\"";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\r':
        quoted += "\\r";
        break;
      case '\t':
        quoted += "\\t";
        break;
      case '\b':
        quoted += "\\b";
        break;
      case '\f':
        quoted += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
          quoted += escape;
        } else {
          quoted += c;  // UTF-8 passes through unchanged
        }
    }
  }
  quoted += '"';
  return quoted;
}

std::string yaml_to_json(const YAML::Node& node) {
  std::string json;
  append_json(node, json);
  return json;
}

}  // namespace weir::config

#include "config/config_file_json.h"
#include "config/yaml_bounds.h"

namespace weir::config {

namespace {

// A DataSource's inline contents as "[redacted]" (a filename is shown: it is not the secret).
void redact_data_source(const YAML::Node& source) {
  if (!source.IsMap()) return;
  for (auto field : source) {
    const std::string name = field.first.IsScalar() ? field.first.Scalar() : "";
    if (name != "filename" && name != "environment_variable") field.second = "[redacted]";
  }
}

// Envoy's /config_dump redacts its "sensitive" fields: a TLS private key or its password,
// and session ticket keys, written inline show as "[redacted]".
void redact_secrets(const YAML::Node& node) {
  if (node.IsSequence()) {
    for (YAML::Node item : node) redact_secrets(item);
    return;
  }
  if (!node.IsMap()) return;
  for (auto entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
    YAML::Node value = entry.second;
    const bool secret = key == "private_key" || key == "privateKey" || key == "password";
    if (secret && value.IsMap()) {
      redact_data_source(value);
      continue;
    }
    if ((key == "session_ticket_keys" || key == "sessionTicketKeys") && value.IsMap() &&
        value["keys"].IsSequence()) {
      for (YAML::Node source : value["keys"]) redact_data_source(source);
      continue;
    }
    redact_secrets(value);
  }
}

}  // namespace

std::optional<std::string> config_file_as_json(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (yaml_out_of_bounds(root)) return std::nullopt;
    redact_secrets(root);
    return yaml_to_json(root);
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> config_text_as_json(const std::string& yaml) {
  try {
    YAML::Node root = YAML::Load(yaml);
    if (yaml_out_of_bounds(root)) return std::nullopt;
    redact_secrets(root);
    return yaml_to_json(root);
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

}  // namespace weir::config
