#include "http/header_map.h"

#include <cstring>

#include "common/recycled.h"
#include "common/spare_pool.h"

namespace weir::http {

namespace {

inline char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// ASCII upper-case letters to lower-case, 8 bytes per step: a byte gets 0x20 added when
// it is in 'A'..'Z' (bytes with the high bit set are left alone).
inline uint64_t lower_case_word(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  const uint64_t heptets = word & (kOnes * 0x7F);
  const uint64_t above_z = heptets + kOnes * (0x7F - 'Z');  // high bit: byte > 'Z'
  const uint64_t from_a = heptets + kOnes * (0x80 - 'A');   // high bit: byte >= 'A'
  const uint64_t upper = (from_a ^ above_z) & ~word & (kOnes * 0x80);
  return word | (upper >> 2);
}

// Lower-casing is idempotent, so the last bytes are done as the (overlapping) last word,
// and a name shorter than a word as a partial one.
void lower_case_in_place(char* p, size_t n) {
  uint64_t word;
  if (n < 8) {
    if (n == 0) return;
    word = 0;
    std::memcpy(&word, p, n);
    word = lower_case_word(word);
    std::memcpy(p, &word, n);
    return;
  }
  for (size_t i = 0; i + 8 <= n; i += 8) {
    std::memcpy(&word, p + i, 8);
    word = lower_case_word(word);
    std::memcpy(p + i, &word, 8);
  }
  std::memcpy(&word, p + n - 8, 8);
  word = lower_case_word(word);
  std::memcpy(p + n - 8, &word, 8);
}

// Whether the word has a byte in 'A'..'Z' (the same test as lower_case_word).
inline bool word_has_upper(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  const uint64_t heptets = word & (kOnes * 0x7F);
  const uint64_t above_z = heptets + kOnes * (0x7F - 'Z');
  const uint64_t from_a = heptets + kOnes * (0x80 - 'A');
  return ((from_a ^ above_z) & ~word & (kOnes * 0x80)) != 0;
}

bool has_upper(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t word = 0;
  if (n < 8) {
    if (n > 0) std::memcpy(&word, p, n);
    return word_has_upper(word);
  }
  for (size_t i = 0; i + 8 <= n; i += 8) {
    std::memcpy(&word, p + i, 8);
    if (word_has_upper(word)) return true;
  }
  std::memcpy(&word, p + n - 8, 8);
  return word_has_upper(word);
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

// `name` is the lower-case `literal` (N counts its NUL): a fixed-size compare, which the
// compiler turns into a few word compares.
template <size_t N>
inline bool is(const char* name, const char (&literal)[N]) {
  return std::memcmp(name, literal, N - 1) == 0;
}

// Which known header the lower-case `name` is. By length first: most names are ruled out
// without reading them.
KnownHeader classify_lower(std::string_view name) {
  using K = KnownHeader;
  const char* p = name.data();
  switch (name.size()) {
    case 2:
      return is(p, "te") ? K::kTe : K::kNone;
    case 4:
      return is(p, "host") ? K::kHost : is(p, "date") ? K::kDate : K::kNone;
    case 5:
      return is(p, ":path") ? K::kPath : K::kNone;
    case 6:
      return is(p, "server") ? K::kServer : is(p, "expect") ? K::kExpect : K::kNone;
    case 7:
      return is(p, ":method")   ? K::kMethod
             : is(p, ":status") ? K::kStatus
             : is(p, ":scheme") ? K::kScheme
             : is(p, "upgrade") ? K::kUpgrade
                                : K::kNone;
    case 10:
      return is(p, ":authority")   ? K::kAuthority
             : is(p, "connection") ? K::kConnection
             : is(p, "keep-alive") ? K::kKeepAlive
                                   : K::kNone;
    case 12:
      return is(p, "x-request-id")   ? K::kXRequestId
             : is(p, "content-type") ? K::kContentType
                                     : K::kNone;
    case 14:
      return is(p, "content-length") ? K::kContentLength : K::kNone;
    case 15:
      return is(p, "x-forwarded-for") ? K::kXForwardedFor : K::kNone;
    case 16:
      return is(p, "proxy-connection") ? K::kProxyConnection : K::kNone;
    case 17:
      return is(p, "transfer-encoding")   ? K::kTransferEncoding
             : is(p, "x-forwarded-proto") ? K::kXForwardedProto
                                          : K::kNone;
    case 23:
      return is(p, "x-forwarded-client-cert") ? K::kXForwardedClientCert : K::kNone;
    case 29:
      return is(p, "x-envoy-upstream-service-time") ? K::kXEnvoyUpstreamServiceTime : K::kNone;
    default:
      return K::kNone;
  }
}

constexpr size_t kLongestKnownName = 29;

}  // namespace

std::string_view known_header_name(KnownHeader header) {
  return kKnownNames[static_cast<size_t>(header)];
}

KnownHeader classify_header(std::string_view name) {
  if (!has_upper(name)) return classify_lower(name);
  if (name.size() > kLongestKnownName) return KnownHeader::kNone;
  char lower[kLongestKnownName];
  for (size_t i = 0; i < name.size(); ++i) lower[i] = fold(name[i]);
  return classify_lower(std::string_view(lower, name.size()));
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

namespace {

// The per-thread pool of field storage (see header_map.h). Bounded so that a burst of
// streams, or one huge header, does not stay in memory: at most 32 lists per thread (the
// pool's bound), each of at most kSpareSlots slots whose strings hold at most kSpareBytes.
constexpr size_t kSpareSlots = 64;
constexpr size_t kSpareBytes = 256;
using FieldSpares = SparePool<std::vector<HeaderMap::Entry>>;

void take_spare(std::vector<HeaderMap::Entry>& into) { into = FieldSpares::take(); }

void give_back(std::vector<HeaderMap::Entry>& entries, bool long_strings) {
  // A list grown past kSpareSlots (a request with many fields) is freed, not kept: its
  // capacity would stay with the worker.
  if (entries.capacity() == 0 || entries.capacity() > kSpareSlots) return;
  if (long_strings) {
    for (auto& [name, value] : entries) {
      if (name.capacity() > kSpareBytes) std::string().swap(name);
      if (value.capacity() > kSpareBytes) std::string().swap(value);
    }
  }
  FieldSpares::give_back(std::move(entries));
}

}  // namespace

HeaderMap::HeaderMap(const HeaderMap& other)
    : entries_(other.entries_.begin(),
               other.entries_.begin() + static_cast<ptrdiff_t>(other.size_)),
      size_(other.size_),
      field_bytes_(other.field_bytes_),
      long_strings_(other.long_strings_),
      index_(other.index_),
      index_overflow_(other.index_overflow_) {}

HeaderMap& HeaderMap::operator=(const HeaderMap& other) {
  if (this == &other) return *this;
  truncate(0);
  reserve(other.size_);
  for (size_t i = 0; i < other.size_; ++i) {
    Entry& slot = next_slot();
    slot.first.assign(other.entries_[i].first);
    slot.second.assign(other.entries_[i].second);
  }
  long_strings_ = long_strings_ || other.long_strings_;
  field_bytes_ = other.field_bytes_;
  index_ = other.index_;
  index_overflow_ = other.index_overflow_;
  return *this;
}

HeaderMap::HeaderMap(HeaderMap&& other) noexcept
    : entries_(std::move(other.entries_)),
      size_(other.size_),
      field_bytes_(other.field_bytes_),
      long_strings_(other.long_strings_),
      index_(other.index_),
      index_overflow_(other.index_overflow_) {
  other.clear();
}

HeaderMap& HeaderMap::operator=(HeaderMap&& other) noexcept {
  if (this != &other) {
    // The other map keeps this one's storage, as spare slots.
    std::swap(entries_, other.entries_);
    size_ = other.size_;
    field_bytes_ = other.field_bytes_;
    std::swap(long_strings_, other.long_strings_);
    index_ = other.index_;
    index_overflow_ = other.index_overflow_;
    other.clear();
  }
  return *this;
}

HeaderMap::~HeaderMap() { give_back(entries_, long_strings_); }

void HeaderMap::clear() {
  truncate(0);
  field_bytes_ = 0;
  index_ = {};
  index_overflow_ = false;
}

void HeaderMap::reserve(size_t n) {
  if (entries_.capacity() == 0) take_spare(entries_);
  entries_.reserve(n);
}

HeaderMap::Entry& HeaderMap::next_slot() {
  if (size_ == entries_.size()) {
    if (entries_.capacity() == 0) take_spare(entries_);
    if (size_ == entries_.size()) entries_.emplace_back();
  }
  return entries_[size_++];
}

void HeaderMap::truncate(size_t n) {
  size_ = n;
#if !WEIR_RECYCLE_BLOCKS
  entries_.resize(n);  // no spare slots: a view into a removed field is caught
#endif
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
  for (size_t i = 0; i < size_; ++i) note_added(classify_lower(entries_[i].first), i);
}

size_t HeaderMap::scan(std::string_view name, size_t from) const {
  const size_t n = size_;
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
  const KnownHeader header = classify_header(name);
  if (header != KnownHeader::kNone) return get(header);
  const size_t i = scan(name);
  if (i == size_) return std::nullopt;
  return std::string_view(entries_[i].second);
}

void HeaderMap::append(std::string_view name, std::string_view value, bool name_is_lower) {
  if (size_ == entries_.size() && (inside_slots(name) || inside_slots(value))) {
    // Growing moves short strings, which live inside the slots: copy what is read first.
    const std::string name_copy(name);
    const std::string value_copy(value);
    append(name_copy, value_copy, name_is_lower);
    return;
  }
  Entry& slot = next_slot();
  // clear() + append(): libstdc++'s append is the short path into a buffer that has room
  // (assign goes through the general replace, about twice the instructions).
  slot.first.clear();
  slot.first.append(name);
  if (!name_is_lower) lower_case_in_place(slot.first.data(), slot.first.size());
  slot.second.clear();
  slot.second.append(value);
  long_strings_ = long_strings_ || name.size() > kSpareBytes || value.size() > kSpareBytes;
  field_bytes_ += name.size() + value.size();
  note_added(classify_lower(slot.first), size_ - 1);
}

void HeaderMap::add(std::string_view name, std::string_view value) { append(name, value, false); }

void HeaderMap::add_lower_case(std::string_view lower_name, std::string_view value) {
  append(lower_name, value, true);
}

void HeaderMap::set_at(size_t i, std::string_view name, std::string_view value, bool repeated) {
  field_bytes_ = field_bytes_ - entries_[i].second.size() + value.size();
  entries_[i].second.assign(value);
  long_strings_ = long_strings_ || value.size() > kSpareBytes;
  if (!repeated) return;
  size_t kept = i + 1;
  for (size_t j = i + 1; j < size_; ++j) {
    if (equals_lower(name, entries_[j].first)) {
      field_bytes_ -= entries_[j].first.size() + entries_[j].second.size();
      continue;
    }
    if (kept != j) std::swap(entries_[kept], entries_[j]);
    ++kept;
  }
  truncate(kept);
  rebuild_index();
}

void HeaderMap::set(KnownHeader header, std::string_view value) {
  const std::string_view name = known_header_name(header);
  const size_t i = find(header);
  if (i == size_) {
    append(name, value, true);
    return;
  }
  const bool repeated =
      index_overflow_ ? scan(name, i + 1) != size_ : index_[static_cast<size_t>(header)].repeated;
  set_at(i, name, value, repeated);
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  const KnownHeader header = classify_header(name);
  if (header != KnownHeader::kNone) {
    set(header, value);
    return;
  }
  if (inside_slots(name)) {
    // Removing the repeats moves short strings between slots: compare against a copy.
    const std::string name_copy(name);
    set(name_copy, value);
    return;
  }
  const size_t i = scan(name);
  if (i == size_) {
    add(name, value);
    return;
  }
  set_at(i, name, value, scan(name, i + 1) != size_);
}

size_t HeaderMap::remove(KnownHeader header) {
  if (find(header) == size_) return 0;
  const std::string_view name = known_header_name(header);
  return remove_if([&](std::string_view key) { return key == name; });
}

size_t HeaderMap::remove(std::string_view name) {
  const KnownHeader header = classify_header(name);
  if (header != KnownHeader::kNone) return remove(header);
  if (scan(name) == size_) return 0;
  if (inside_slots(name)) {
    const std::string name_copy(name);  // as in set(): removal moves short strings
    return remove(name_copy);
  }
  return remove_if([&](std::string_view key) { return equals_lower(name, key); });
}

}  // namespace weir::http
