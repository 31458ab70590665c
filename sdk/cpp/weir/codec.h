#pragma once
// The host-independent pieces of the SDK: the Proxy-Wasm serialized map format, property
// paths and values, metric names and a small string builder. Header-only plain C++ with no
// host calls, so native unit tests (tests/unit/sdk_cpp_test.cc) exercise the exact code
// plugins run.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "types.h"

namespace weir {

// One header field: name and value. The views point into storage owned elsewhere.
using HeaderPair = std::pair<std::string_view, std::string_view>;

namespace sdk {

// ---- Serialized maps --------------------------------------------------------------------
// u32 count, count x (u32 key_len, u32 value_len), then per pair: key, NUL, value, NUL.
// All integers little-endian. An empty map is 0 bytes or a single 0x00 byte.

inline void put_u32le(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
                     static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 24) & 0xff)};
  out.append(b, 4);
}

inline uint32_t get_u32le(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

// Parses `data` into `out` (cleared first); the views point into `data`. Returns false, with
// `out` empty, when the data is malformed: truncated, lengths out of range, missing NULs.
inline bool parse_header_map(std::string_view data, std::vector<HeaderPair>& out) {
  out.clear();
  if (data.empty() || (data.size() == 1 && data[0] == '\0')) return true;
  if (data.size() < 4) return false;
  const uint64_t count = get_u32le(data.data());
  // Every pair takes at least 8 bytes of lengths and 2 NULs.
  if (count > (data.size() - 4) / 10) return false;
  const size_t lengths_end = 4 + static_cast<size_t>(count) * 8;
  out.reserve(static_cast<size_t>(count));
  size_t pos = lengths_end;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t klen = get_u32le(data.data() + 4 + i * 8);
    const uint64_t vlen = get_u32le(data.data() + 8 + i * 8);
    const uint64_t need = klen + vlen + 2;
    if (need > data.size() - pos) {
      out.clear();
      return false;
    }
    const size_t k = pos, v = pos + static_cast<size_t>(klen) + 1;
    if (data[v - 1] != '\0' || data[v + static_cast<size_t>(vlen)] != '\0') {
      out.clear();
      return false;
    }
    out.emplace_back(data.substr(k, static_cast<size_t>(klen)),
                     data.substr(v, static_cast<size_t>(vlen)));
    pos += static_cast<size_t>(need);
  }
  return true;
}

// Serializes any range of pairs whose members convert to std::string_view
// (std::vector<HeaderPair>, std::vector<std::pair<std::string, std::string>>, ...).
// An empty range gives the 4-byte map with count 0 (accepted by every host).
template <class Range>
std::string serialize_header_map(const Range& pairs) {
  size_t count = 0, bytes = 4;
  for (const auto& p : pairs) {
    ++count;
    bytes += 8 + std::string_view(p.first).size() + std::string_view(p.second).size() + 2;
  }
  std::string out;
  out.reserve(bytes);
  put_u32le(out, static_cast<uint32_t>(count));
  for (const auto& p : pairs) {
    put_u32le(out, static_cast<uint32_t>(std::string_view(p.first).size()));
    put_u32le(out, static_cast<uint32_t>(std::string_view(p.second).size()));
  }
  for (const auto& p : pairs) {
    out.append(std::string_view(p.first));
    out.push_back('\0');
    out.append(std::string_view(p.second));
    out.push_back('\0');
  }
  return out;
}

inline std::string serialize_header_map(std::initializer_list<HeaderPair> pairs) {
  return serialize_header_map<std::initializer_list<HeaderPair>>(pairs);
}

// ---- Properties -------------------------------------------------------------------------

// A property path is its tokens separated by NUL: {"request", "path"} -> "request\0path".
inline std::string property_path(std::initializer_list<std::string_view> tokens) {
  std::string out;
  for (std::string_view t : tokens) {
    if (!out.empty()) out.push_back('\0');
    out.append(t);
  }
  return out;
}

// Numbers are 8-byte little-endian integers.
inline std::optional<int64_t> decode_int64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t v = static_cast<uint64_t>(get_u32le(bytes.data())) |
               (static_cast<uint64_t>(get_u32le(bytes.data() + 4)) << 32);
  return static_cast<int64_t>(v);
}

inline std::string encode_int64(int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  std::string out;
  put_u32le(out, static_cast<uint32_t>(v & 0xffffffffu));
  put_u32le(out, static_cast<uint32_t>(v >> 32));
  return out;
}

// Booleans are one byte.
inline std::optional<bool> decode_bool(std::string_view bytes) {
  if (bytes.size() != 1) return std::nullopt;
  return bytes[0] != 0;
}

// Strict unsigned decimal ("200" -> 200); nullopt on empty input, other characters or overflow.
inline std::optional<uint64_t> parse_uint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Without leading and trailing spaces, tabs and CRs.
inline std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// ---- Metric names -----------------------------------------------------------------------
// A metric name is dot-separated segments: non-empty, no NUL, no empty segment
// ("a..b", ".a", "a."). Tagged metrics put each tag in the name as "<tag>.<value>" segments
// after the base name: base "http.requests", tags {method: GET, code: 200} ->
// "http.requests.method.GET.code.200".

inline bool valid_metric_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  char prev = 0;
  for (char c : name) {
    if (c == '\0' || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

// A tag value as one name segment: '.' and control characters become '_'; empty -> "_".
inline std::string metric_tag_value(std::string_view value) {
  if (value.empty()) return "_";
  std::string out(value);
  for (char& c : out) {
    if (c == '.' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return out;
}

// "" when the base name or a tag name is not a valid metric name.
inline std::string metric_name(
    std::string_view base, const std::vector<std::pair<std::string_view, std::string_view>>& tags) {
  if (!valid_metric_name(base)) return {};
  std::string out(base);
  for (const auto& [tag, value] : tags) {
    if (!valid_metric_name(tag)) return {};
    out.push_back('.');
    out.append(tag);
    out.push_back('.');
    out.append(metric_tag_value(value));
  }
  return out;
}

// ---- String building (no iostreams) -----------------------------------------------------

template <class T>
void str_append(std::string& out, const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, bool>) {
    out.append(v ? "true" : "false");
  } else if constexpr (std::is_same_v<D, char>) {
    out.push_back(v);
  } else if constexpr (std::is_same_v<D, Status>) {
    out.append(status_name(v));
  } else if constexpr (std::is_integral_v<D>) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<size_t>(r.ptr - buf));
  } else if constexpr (std::is_enum_v<D>) {
    str_append(out, static_cast<std::underlying_type_t<D>>(v));
  } else {
    static_assert(std::is_convertible_v<const T&, std::string_view>,
                  "str_cat takes strings, characters, integers, bools and enums");
    out.append(std::string_view(v));
  }
}

// str_cat("took ", 12, " ms") == "took 12 ms".
template <class... Parts>
std::string str_cat(const Parts&... parts) {
  std::string out;
  (str_append(out, parts), ...);
  return out;
}

}  // namespace sdk

using sdk::str_cat;

}  // namespace weir
