#pragma once
// An ordered list of header fields with lower-case names. HTTP/1 start-line parts live
// in the same list as HTTP/2-style pseudo headers (":method", ":path", ":authority",
// ":scheme" on requests, ":status" on responses), so plugins see one map, as in Envoy.
//
// Names are lower-cased once, when a field is added; every stored name is lower-case, so a
// lookup lower-cases only the name it is given (nothing, when that is already lower-case)
// and compares sizes first. Maps are small (tens of fields): a linear scan whose first test
// is the length beats hashing them.
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
  // Appends a field whose name is known to be lower-case already (a parser's output, a
  // literal): skips the lower-casing pass.
  void add_lower_case(std::string_view lower_name, std::string_view value);
  // Replaces every field called `name` by one field with `value` (adds it if absent).
  void set(std::string_view name, std::string_view value);
  // Removes every field called `name`; returns how many were removed.
  size_t remove(std::string_view name);
  // Removes, in one pass, every field for which `doomed(name)` is true; `name` is the
  // stored lower-case name. Returns how many were removed.
  template <typename Predicate>
  size_t remove_if(Predicate&& doomed) {
    size_t kept = 0;
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (doomed(std::string_view(entries_[i].first))) continue;
      if (kept != i) entries_[kept] = std::move(entries_[i]);
      ++kept;
    }
    const size_t removed = entries_.size() - kept;
    entries_.resize(kept);
    return removed;
  }
  void clear() { entries_.clear(); }
  // Room for `n` fields without regrowing.
  void reserve(size_t n) { entries_.reserve(n); }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Total bytes of names and values, as Envoy counts a header map's byte size.
  size_t byte_size() const;

 private:
  // Index of the first field called `name`, or entries_.size().
  size_t find(std::string_view name, size_t from = 0) const;

  std::vector<Entry> entries_;
};

// ASCII lower-case copy.
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// `name` equals the lower-case `lower` ignoring case (only `name` is folded).
bool equals_lower(std::string_view name, std::string_view lower);

}  // namespace weir::http
