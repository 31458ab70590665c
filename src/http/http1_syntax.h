#pragma once
// The pieces of HTTP/1 grammar that Http1Parser checks (RFC 9110, RFC 9112, RFC 3986), as
// pure functions over bytes: character classes, the request line, field values, authority,
// the values of the framing fields, chunk extensions, and the fields trailers may not carry.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weir::http::syntax {

// --- Character classes (RFC 9110 §5.6.2, §5.5; RFC 3986 §3.2.2) ---------------------------

enum CharClass : uint8_t {
  kTokenChar = 1 << 0,    // tchar
  kHexChar = 1 << 1,      // HEXDIG
  kRegNameChar = 1 << 2,  // unreserved / sub-delims (pct-encoded is checked apart)
  kQdTextChar = 1 << 3,   // qdtext of a quoted-string
  kMethodChar = 1 << 4,   // what nginx takes in a method: A-Z, '-' and '_'
};

inline constexpr std::array<uint8_t, 256> kCharClass = [] {
  std::array<uint8_t, 256> table{};
  auto add = [&](std::string_view chars, uint8_t cls) {
    for (char c : chars) {
      table[static_cast<unsigned char>(c)] |= cls;
    }
  };
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (alpha || digit) {
      table[c] |= kTokenChar | kRegNameChar;
    }
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      table[c] |= kHexChar;
    }
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
        (c >= 0x5d && c <= 0x7e) || c >= 0x80) {
      table[c] |= kQdTextChar;
    }
  }
  add("!#$%&'*+-.^_`|~", kTokenChar);
  add("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_", kMethodChar);
  add("-._~!$&'()*+,;=", kRegNameChar);
  return table;
}();

inline bool is(char c, uint8_t cls) {
  return (kCharClass[static_cast<unsigned char>(c)] & cls) != 0;
}
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }
bool all_of_class(std::string_view s, uint8_t cls);

// `name` (token bytes) equals `lower` (lower-case letters, digits and '-') ignoring case.
// Setting bit 0x20 maps exactly the upper-case letters onto lower-case ones among tchars.
inline bool name_is(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if ((name[i] | 0x20) != lower[i]) {
      return false;
    }
  }
  return true;
}
// `a` equals `lower` (a lower-case literal) ignoring ASCII case.
bool ascii_iequals(std::string_view a, std::string_view lower);

// `s` without surrounding SP (and HTAB, when `tabs`).
inline std::string_view trim(std::string_view s, bool tabs) {
  const auto ws = [tabs](char c) { return c == ' ' || (tabs && c == '\t'); };
  while (!s.empty() && ws(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && ws(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls `fn` with each element of a comma-separated list, trimmed (empty ones included).
template <typename Fn>
void for_each_element(std::string_view list, Fn&& fn) {
  for (;;) {
    const size_t comma = list.find(',');
    fn(trim(list.substr(0, comma), true));
    if (comma == std::string_view::npos) {
      return;
    }
    list.remove_prefix(comma + 1);
  }
}

// Field values (and reason phrases): HTAB, SP, VCHAR and obs-text; a CR is a control byte,
// so a bare CR inside a line is refused here too.
bool valid_field_value(const char* data, size_t size);
// Request targets: visible bytes only. Bytes >= 0x80 are allowed (raw UTF-8 from lax
// clients), since nobody reads them as separators.
bool valid_target(const char* data, size_t size);

// Why `line` is not a request line (or, when `complete` is false, cannot begin one); empty
// if it is. One function for both, so that where a read splits a line never changes the
// verdict: the first byte that cannot fit decides it.
std::string_view request_line_problem(std::string_view line, bool complete);

// host [":" port] (RFC 3986 §3.2.2, without userinfo): a reg-name (which covers IPv4) with
// no empty DNS label ("a..b": nginx refuses it too, since $host may end up in a file path),
// or an [IPv6] / [vFuture] literal; a port of at most 65535.
bool valid_authority(std::string_view authority, bool port_required);

enum class Coding { kChunked, kMalformed, kChunkedNotFinal, kUnsupported };
// A Transfer-Encoding value (trimmed). Only exactly "chunked" (any case) is framing weir can
// use; a list ending in chunked has codings weir does not decode; any HTAB is malformed.
Coding classify_transfer_encoding(std::string_view value);

enum class Length { kValid, kMalformed, kTooLarge };
// A Content-Length value (trimmed): plain decimal digits, at most `max`.
Length parse_content_length(std::string_view value, uint64_t max, uint64_t& out);

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), all of it.
bool valid_chunk_extensions(std::string_view s);

// Fields dropped from trailers (`name` a token, any case). See kForbiddenTrailers.
bool forbidden_in_trailers(std::string_view name);

}  // namespace weir::http::syntax
