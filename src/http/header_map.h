#pragma once
// An ordered list of header fields with lower-case names. HTTP/1 start-line parts live
// in the same list as HTTP/2-style pseudo headers (":method", ":path", ":authority",
// ":scheme" on requests, ":status" on responses), so plugins see one map, as in Envoy.
//
// Names are lower-cased once, when a field is added. The fields the proxy itself reads or
// writes on every request (KnownHeader) are indexed: looking one up is an array read, not a
// scan; any other name is a linear scan that compares lengths first. The index is kept up
// to date by every mutation (rebuilt after removals, which are rare).
//
// A map is made for every request and every response. Its field storage (the vector and
// the strings in it, with their capacity) goes back to a small per-thread pool when the
// map is destroyed and is written over by the next map of that thread: a warmed-up worker
// builds maps without allocating. Removed fields stay behind the live ones as spare slots.
// Under AddressSanitizer nothing is kept, so a field read after its map is gone is caught.
//
// Views from get() and entries() are valid until the map next changes (as iterators of a
// std::vector): copy a value out before removing its field to add it again elsewhere. A
// value passed to the change itself may be a view into the map (add(a, *get(b)) works).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::http {

enum class KnownHeader : uint8_t {
  kMethod,
  kPath,
  kAuthority,
  kScheme,
  kStatus,
  kHost,
  kContentLength,
  kTransferEncoding,
  kConnection,
  kKeepAlive,
  kProxyConnection,
  kUpgrade,
  kTe,
  kExpect,
  kDate,
  kServer,
  kContentType,
  kXRequestId,
  kXForwardedFor,
  kXForwardedProto,
  kXForwardedClientCert,
  kXEnvoyUpstreamServiceTime,
  kCount,
  kNone = kCount,
};

// The lower-case name of a known header.
std::string_view known_header_name(KnownHeader header);
// Which known header `name` is (compared case-insensitively), or kNone.
KnownHeader classify_header(std::string_view name);

class HeaderMap {
 public:
  using Entry = std::pair<std::string, std::string>;

  HeaderMap() = default;
  HeaderMap(const HeaderMap& other);
  HeaderMap& operator=(const HeaderMap& other);
  // A moved-from map is empty (and its index with it).
  HeaderMap(HeaderMap&& other) noexcept;
  HeaderMap& operator=(HeaderMap&& other) noexcept;
  ~HeaderMap();

  // First value for `name` (names compare case-insensitively), if any.
  std::optional<std::string_view> get(std::string_view name) const;
  std::optional<std::string_view> get(KnownHeader header) const {
    const size_t i = find(header);
    if (i == size_) return std::nullopt;
    return std::string_view(entries_[i].second);
  }
  // Appends a field; the name is lower-cased.
  void add(std::string_view name, std::string_view value);
  // Appends a field whose name is known to be lower-case already (a parser's pseudo
  // header, a literal): skips the lower-casing pass.
  void add_lower_case(std::string_view lower_name, std::string_view value);
  // Replaces every field called `name` by one field with `value`, where the first was
  // (appends it if absent).
  void set(std::string_view name, std::string_view value);
  void set(KnownHeader header, std::string_view value);
  // Removes every field called `name`; returns how many were removed.
  size_t remove(std::string_view name);
  size_t remove(KnownHeader header);
  // Removes, in one pass, every field for which `doomed(name)` is true; `name` is the
  // stored lower-case name. Returns how many were removed.
  template <typename Predicate>
  size_t remove_if(Predicate&& doomed) {
    size_t kept = 0;
    for (size_t i = 0; i < size_; ++i) {
      if (doomed(std::string_view(entries_[i].first))) {
        field_bytes_ -= entries_[i].first.size() + entries_[i].second.size();
        continue;
      }
      if (kept != i) std::swap(entries_[kept], entries_[i]);  // the removed become spares
      ++kept;
    }
    const size_t removed = size_ - kept;
    if (removed > 0) {
      truncate(kept);
      rebuild_index();
    }
    return removed;
  }
  void clear();
  // Room for `n` fields without regrowing.
  void reserve(size_t n);

  std::span<const Entry> entries() const { return {entries_.data(), size_}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Total bytes of names and values, as Envoy counts a header map's byte size.
  size_t byte_size() const { return field_bytes_; }

 private:
  static constexpr uint16_t kAbsent = 0;
  // Position + 1 of the first field of each known header (kAbsent: none), and whether
  // there is more than one. Positions past uint16_t are not indexed (a scan finds them).
  struct Slot {
    uint16_t first = kAbsent;
    bool repeated = false;
  };
  static constexpr size_t kMaxIndexed = UINT16_MAX - 1;

  // Appends a field; `name` is lower-cased first unless `name_is_lower`.
  void append(std::string_view name, std::string_view value, bool name_is_lower);
  // The next free slot (a spare one if there is any), counted as live.
  Entry& next_slot();
  // Keeps the first `n` fields.
  void truncate(size_t n);
  // Whether `s` points into the slots themselves (a short string's bytes live there): such
  // a view moves when slots grow or are swapped, so it is copied before they are.
  bool inside_slots(std::string_view s) const {
    const auto* begin = reinterpret_cast<const char*>(entries_.data());
    return s.data() >= begin && s.data() < begin + entries_.size() * sizeof(Entry);
  }
  void note_added(KnownHeader header, size_t index);
  void rebuild_index();
  // Index of the first field called `name` at or after `from`, or size() (linear scan).
  size_t scan(std::string_view name, size_t from = 0) const;
  size_t find(KnownHeader header) const {
    if (index_overflow_) return scan(known_header_name(header));
    const Slot& slot = index_[static_cast<size_t>(header)];
    return slot.first == kAbsent ? size_ : slot.first - 1u;
  }
  void set_at(size_t i, std::string_view name, std::string_view value, bool repeated);

  std::vector<Entry> entries_;  // [0, size_) are the fields; the rest are spare slots
  size_t size_ = 0;
  size_t field_bytes_ = 0;     // byte_size(), kept as fields change
  bool long_strings_ = false;  // a slot may hold more than the pool keeps (see the .cc)
  std::array<Slot, static_cast<size_t>(KnownHeader::kCount)> index_{};
  bool index_overflow_ = false;  // a known header sits past kMaxIndexed
};

// ASCII lower-case copy.
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// `name` equals the lower-case `lower` ignoring case (only `name` is folded).
bool equals_lower(std::string_view name, std::string_view lower);

}  // namespace weir::http
