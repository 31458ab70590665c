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

constexpr std::array<std::string_view, static_cast<size_t>(KnownHeader::kCount)> kKnownNames = {
    ":method",
    ":path",
    ":authority",
    ":scheme",
    ":status",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "expect",
    "date",
    "server",
    "content-type",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-client-cert",
    "x-envoy-upstream-service-time",
};

inline KnownHeader is(std::string_view name, KnownHeader candidate) {
  return equals_lower(name, kKnownNames[static_cast<size_t>(candidate)]) ? candidate
                                                                         : KnownHeader::kNone;
}

inline KnownHeader either(std::string_view name, KnownHeader a, KnownHeader b) {
  const KnownHeader first = is(name, a);
  return first != KnownHeader::kNone ? first : is(name, b);
}

}  // namespace

std::string_view known_header_name(KnownHeader header) {
  return kKnownNames[static_cast<size_t>(header)];
}

KnownHeader classify_header(std::string_view name) {
  using K = KnownHeader;
  // By length first: most names are ruled out without reading them.
  switch (name.size()) {
    case 2:
      return is(name, K::kTe);
    case 4:
      return either(name, K::kHost, K::kDate);
    case 5:
      return is(name, K::kPath);
    case 6:
      return either(name, K::kServer, K::kExpect);
    case 7:
      if (name[0] == ':') {
        return fold(name[1]) == 'm' ? is(name, K::kMethod) : either(name, K::kScheme, K::kStatus);
      }
      return is(name, K::kUpgrade);
    case 10:
      if (name[0] == ':') return is(name, K::kAuthority);
      return either(name, K::kConnection, K::kKeepAlive);
    case 12:
      return either(name, K::kXRequestId, K::kContentType);
    case 14:
      return is(name, K::kContentLength);
    case 15:
      return is(name, K::kXForwardedFor);
    case 16:
      return is(name, K::kProxyConnection);
    case 17:
      return either(name, K::kTransferEncoding, K::kXForwardedProto);
    case 23:
      return is(name, K::kXForwardedClientCert);
    case 29:
      return is(name, K::kXEnvoyUpstreamServiceTime);
    default:
      return K::kNone;
  }
}

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

HeaderMap::HeaderMap(HeaderMap&& other) noexcept
    : entries_(std::move(other.entries_)),
      index_(other.index_),
      index_overflow_(other.index_overflow_) {
  other.clear();
}

HeaderMap& HeaderMap::operator=(HeaderMap&& other) noexcept {
  if (this != &other) {
    entries_ = std::move(other.entries_);
    index_ = other.index_;
    index_overflow_ = other.index_overflow_;
    other.clear();
  }
  return *this;
}

void HeaderMap::clear() {
  entries_.clear();
  index_ = {};
  index_overflow_ = false;
}

void HeaderMap::note_added(KnownHeader header, size_t index) {
  if (header == KnownHeader::kNone) return;
  if (index >= kMaxIndexed) {
    index_overflow_ = true;
    return;
  }
  Slot& slot = index_[static_cast<size_t>(header)];
  if (slot.first == kAbsent) {
    slot.first = static_cast<uint16_t>(index + 1);
  } else {
    slot.repeated = true;
  }
}

void HeaderMap::rebuild_index() {
  index_ = {};
  index_overflow_ = false;
  for (size_t i = 0; i < entries_.size(); ++i) note_added(classify_header(entries_[i].first), i);
}

size_t HeaderMap::scan(std::string_view name, size_t from) const {
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

size_t HeaderMap::find(KnownHeader header) const {
  if (index_overflow_) return scan(known_header_name(header));
  const Slot& slot = index_[static_cast<size_t>(header)];
  return slot.first == kAbsent ? entries_.size() : slot.first - 1u;
}

std::optional<std::string_view> HeaderMap::get(KnownHeader header) const {
  const size_t i = find(header);
  if (i == entries_.size()) return std::nullopt;
  return std::string_view(entries_[i].second);
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const {
  const KnownHeader header = classify_header(name);
  if (header != KnownHeader::kNone) return get(header);
  const size_t i = scan(name);
  if (i == entries_.size()) return std::nullopt;
  return std::string_view(entries_[i].second);
}

void HeaderMap::append(std::string&& lower_name, std::string_view value, KnownHeader header) {
  entries_.emplace_back(std::move(lower_name), std::string(value));
  note_added(header, entries_.size() - 1);
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  std::string key(name.size(), '\0');
  for (size_t i = 0; i < name.size(); ++i) key[i] = fold(name[i]);
  const KnownHeader header = classify_header(key);
  append(std::move(key), value, header);
}

void HeaderMap::add_lower_case(std::string_view lower_name, std::string_view value) {
  append(std::string(lower_name), value, classify_header(lower_name));
}

void HeaderMap::set_at(size_t i, std::string_view name, std::string_view value, bool repeated) {
  entries_[i].second.assign(value);
  if (!repeated) return;
  size_t kept = i + 1;
  for (size_t j = i + 1; j < entries_.size(); ++j) {
    if (equals_lower(name, entries_[j].first)) continue;
    if (kept != j) entries_[kept] = std::move(entries_[j]);
    ++kept;
  }
  entries_.resize(kept);
  rebuild_index();
}

void HeaderMap::set(KnownHeader header, std::string_view value) {
  const std::string_view name = known_header_name(header);
  const size_t i = find(header);
  if (i == entries_.size()) {
    append(std::string(name), value, header);
    return;
  }
  const bool repeated = index_overflow_ ? scan(name, i + 1) != entries_.size()
                                        : index_[static_cast<size_t>(header)].repeated;
  set_at(i, name, value, repeated);
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  const KnownHeader header = classify_header(name);
  if (header != KnownHeader::kNone) {
    set(header, value);
    return;
  }
  const size_t i = scan(name);
  if (i == entries_.size()) {
    add(name, value);
    return;
  }
  set_at(i, name, value, scan(name, i + 1) != entries_.size());
}

size_t HeaderMap::remove(KnownHeader header) {
  if (find(header) == entries_.size()) return 0;
  const std::string_view name = known_header_name(header);
  return remove_if([&](std::string_view key) { return key == name; });
}

size_t HeaderMap::remove(std::string_view name) {
  const KnownHeader header = classify_header(name);
  if (header != KnownHeader::kNone) return remove(header);
  if (scan(name) == entries_.size()) return 0;
  return remove_if([&](std::string_view key) { return equals_lower(name, key); });
}

size_t HeaderMap::byte_size() const {
  size_t n = 0;
  for (const auto& [k, v] : entries_) n += k.size() + v.size();
  return n;
}

}  // namespace weir::http
