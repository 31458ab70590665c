#pragma once
// An ordered list of header fields with lower-case names. HTTP/1 start-line parts live
// in the same list as HTTP/2-style pseudo headers (":method", ":path", ":authority",
// ":scheme" on requests, ":status" on responses), so plugins see one map, as in Envoy.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::http {

class HeaderMap {
 public:
  using Entry = std::pair<std::string, std::string>;

  // First value for `name` (names compare case-insensitively), if any.
  std::optional<std::string_view> get(std::string_view name) const;
  // Appends a field; the name is lower-cased.
  void add(std::string_view name, std::string_view value);
  // Replaces every field called `name` by one field with `value` (adds it if absent).
  void set(std::string_view name, std::string_view value);
  // Removes every field called `name`; returns how many were removed.
  size_t remove(std::string_view name);
  void clear() { entries_.clear(); }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Total bytes of names and values, as Envoy counts a header map's byte size.
  size_t byte_size() const;

 private:
  std::vector<Entry> entries_;
};

// ASCII lower-case copy.
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

}  // namespace weir::http
