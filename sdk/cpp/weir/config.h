#pragma once
// Plugin configuration as "key: value" lines, the simplest format to write in envoy.yaml:
//
//   configuration:
//     "@type": type.googleapis.com/google.protobuf.StringValue
//     value: |
//       capacity: 3
//       header: x-greeting: hello
//
// A line is split at its first ':' ("header" -> "x-greeting: hello" above). Blank lines and
// lines starting with '#' are skipped; keys and values are trimmed; a key
// may repeat (all() returns every value in order). Header-only plain C++ with no host calls
// (unit-tested natively in tests/unit/sdk_cpp_test.cc). Want JSON instead? Use a Struct
// configuration (it arrives as JSON text) and a JSON library of your choice.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec.h"

namespace weir {

class ConfigLines {
 public:
  struct Entry {
    std::string key;
    std::string value;
    size_t line = 0;  // 1-based, for error messages
  };

  // Parses `text`. On a line without ':' (or with an empty key), ok() is false and error()
  // names the line.
  static ConfigLines parse(std::string_view text) {
    ConfigLines out;
    size_t line_number = 0;
    while (!text.empty()) {
      size_t end = text.find('\n');
      std::string_view line = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
      ++line_number;
      line = sdk::trim(line);
      if (line.empty() || line.front() == '#') continue;
      size_t colon = line.find(':');
      std::string_view key =
          colon == std::string_view::npos ? line : sdk::trim(line.substr(0, colon));
      if (colon == std::string_view::npos || key.empty()) {
        out.error_ =
            sdk::str_cat("line ", line_number, ": expected 'key: value', got '", line, "'");
        out.entries_.clear();
        return out;
      }
      out.entries_.push_back(
          Entry{std::string(key), std::string(sdk::trim(line.substr(colon + 1))), line_number});
    }
    return out;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::vector<Entry>& entries() const { return entries_; }

  // The last value given for `key`.
  std::optional<std::string_view> get(std::string_view key) const {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (it->key == key) return std::string_view(it->value);
    }
    return std::nullopt;
  }
  std::string_view get_or(std::string_view key, std::string_view fallback) const {
    return get(key).value_or(fallback);
  }

  // Every value given for `key`, in order.
  std::vector<std::string_view> all(std::string_view key) const {
    std::vector<std::string_view> out;
    for (const Entry& e : entries_) {
      if (e.key == key) out.emplace_back(e.value);
    }
    return out;
  }

  // The value of `key` as an unsigned decimal: `fallback` when the key is absent,
  // std::nullopt when it is present but not a number.
  std::optional<uint64_t> get_uint(std::string_view key, uint64_t fallback) const {
    auto v = get(key);
    if (!v) return fallback;
    return sdk::parse_uint(*v);
  }

  // "" when every key is one of `known`; else a message naming the first unknown one (a
  // typo in the configuration should fail the load, not be ignored).
  std::string check_keys(std::initializer_list<std::string_view> known) const {
    for (const Entry& e : entries_) {
      bool found = false;
      for (std::string_view k : known) found = found || k == e.key;
      if (!found) return sdk::str_cat("line ", e.line, ": unknown key '", e.key, "'");
    }
    return {};
  }

 private:
  std::vector<Entry> entries_;
  std::string error_;
};

}  // namespace weir
