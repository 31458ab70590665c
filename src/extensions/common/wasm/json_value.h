#pragma once
// A small JSON reader for what registries send (image manifests, token replies) and docker
// config.json files: bounded depth, no allocation beyond the input's size class. Only
// src/config knows YAML, and these documents are not configuration.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weir::extensions::wasm {

struct JsonValue {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;

  // A member of an object, or null when absent (or when this is not an object).
  const JsonValue* get(std::string_view key) const;
  // A string member's value, or "".
  std::string get_string(std::string_view key) const;
};

// Fails on malformed input or nesting deeper than 32.
Result<JsonValue> parse_json(std::string_view text);

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

}  // namespace weir::extensions::wasm
