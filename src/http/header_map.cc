#include "http/header_map.h"

#include <cstring>

namespace weir::http {

namespace {

inline char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool has_upper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

}  // namespace

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = fold(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

bool equals_lower(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (fold(name[i]) != lower[i]) return false;
  }
  return true;
}

size_t HeaderMap::find(std::string_view name, size_t from) const {
  const size_t n = entries_.size();
  if (!has_upper(name)) {
    for (size_t i = from; i < n; ++i) {
      const std::string& key = entries_[i].first;
      if (key.size() == name.size() && std::memcmp(key.data(), name.data(), name.size()) == 0) {
        return i;
      }
    }
    return n;
  }
  for (size_t i = from; i < n; ++i) {
    if (equals_lower(name, entries_[i].first)) return i;
  }
  return n;
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const {
  const size_t i = find(name);
  if (i == entries_.size()) return std::nullopt;
  return std::string_view(entries_[i].second);
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  Entry& e = entries_.emplace_back(std::string(name), std::string(value));
  for (char& c : e.first) c = fold(c);
}

void HeaderMap::add_lower_case(std::string_view lower_name, std::string_view value) {
  entries_.emplace_back(std::string(lower_name), std::string(value));
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  const size_t i = find(name);
  if (i == entries_.size()) {
    add(name, value);
    return;
  }
  entries_[i].second.assign(value);
  if (find(name, i + 1) == entries_.size()) return;  // the usual case: no duplicate
  size_t kept = i + 1;
  for (size_t j = i + 1; j < entries_.size(); ++j) {
    if (equals_lower(name, entries_[j].first)) continue;
    if (kept != j) entries_[kept] = std::move(entries_[j]);
    ++kept;
  }
  entries_.resize(kept);
}

size_t HeaderMap::remove(std::string_view name) {
  if (find(name) == entries_.size()) return 0;
  return remove_if([&](std::string_view key) { return equals_lower(name, key); });
}

size_t HeaderMap::byte_size() const {
  size_t n = 0;
  for (const auto& [k, v] : entries_) n += k.size() + v.size();
  return n;
}

}  // namespace weir::http
