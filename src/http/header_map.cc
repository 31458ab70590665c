#include "http/header_map.h"

#include <algorithm>

namespace weir::http {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  entries_.emplace_back(to_lower(name), std::string(value));
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return iequals(e.first, name); });
  if (it == entries_.end()) {
    add(name, value);
    return;
  }
  it->second.assign(value);
  auto dup = std::remove_if(it + 1, entries_.end(),
                            [&](const Entry& e) { return iequals(e.first, name); });
  entries_.erase(dup, entries_.end());
}

size_t HeaderMap::remove(std::string_view name) {
  auto it = std::remove_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return iequals(e.first, name); });
  auto n = static_cast<size_t>(entries_.end() - it);
  entries_.erase(it, entries_.end());
  return n;
}

size_t HeaderMap::byte_size() const {
  size_t n = 0;
  for (const auto& [k, v] : entries_) n += k.size() + v.size();
  return n;
}

}  // namespace weir::http
