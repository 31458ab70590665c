#include "http/http1_syntax.h"

#include <arpa/inet.h>

#include <cstring>

namespace weir::http::syntax {
namespace {

// Whether any byte of `word` is below `limit` (at most 0x80) or is DEL. Exact as a yes/no
// answer (the classic "has less than" and "has zero byte" word tricks); lets the checks
// below look at 8 bytes per step, since they run over every header byte.
constexpr bool word_may_have_control(uint64_t word, uint8_t limit) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  const uint64_t below = (word - kOnes * limit) & ~word & kHighBits;
  const uint64_t del_bytes = word ^ (kOnes * 0x7f);
  const uint64_t del = (del_bytes - kOnes) & ~del_bytes & kHighBits;
  return (below | del) != 0;
}

// True if no byte is below kLimit or DEL, HTAB excepted when kAllowTab. Whole words only:
// the last bytes are checked as the (overlapping) last word, and a string shorter than a
// word as a word padded with an allowed byte; a word that may hold a control byte (a tab,
// say) is looked at byte by byte.
template <uint8_t kLimit, bool kAllowTab>
bool no_control_bytes(const char* data, size_t size) {
  const auto allowed = [](unsigned char c) {
    return (c >= kLimit && c != 0x7f) || (kAllowTab && c == '\t');
  };
  const auto word_allowed = [&](const char* at, uint64_t word) {
    if (!word_may_have_control(word, kLimit)) return true;
    for (size_t j = 0; j < 8; ++j) {
      if (!allowed(static_cast<unsigned char>(at[j]))) return false;
    }
    return true;
  };
  if (size < 8) {
    char padded[8];
    std::memset(padded, 'a', sizeof(padded));
    if (size > 0) std::memcpy(padded, data, size);
    uint64_t word;
    std::memcpy(&word, padded, sizeof(word));
    return word_allowed(padded, word);
  }
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, sizeof(word));
    if (!word_allowed(data + i, word)) return false;
  }
  if (i < size) {
    uint64_t word;
    std::memcpy(&word, data + size - 8, sizeof(word));
    if (!word_allowed(data + size - 8, word)) return false;
  }
  return true;
}

}  // namespace

bool valid_field_value(const char* data, size_t size) {
  return no_control_bytes<0x20, true>(data, size);
}

bool valid_target(const char* data, size_t size) {
  return no_control_bytes<0x21, false>(data, size);
}

bool all_of_class(std::string_view s, uint8_t cls) {
  for (char c : s) {
    if (!is(c, cls)) {
      return false;
    }
  }
  return true;
}

bool ascii_iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != lower[i]) {
      return false;
    }
  }
  return true;
}

// --- Authority (RFC 3986 §3.2.2, RFC 9112 §3.2) --------------------------------------------

namespace {

bool valid_port(std::string_view port, bool required) {
  if (port.empty()) {
    return !required;
  }
  if (port.size() > 5) {
    return false;
  }
  uint32_t value = 0;
  for (char c : port) {
    if (!is_digit(c)) {
      return false;
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  return value <= 65535;
}

// reg-name (which covers IPv4 addresses), not empty, without an empty DNS label ("a..b":
// nginx refuses it too, since $host may end up in a file path).
bool valid_reg_name(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  char previous = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (c == '%') {
      if (i + 2 >= host.size() || !is(host[i + 1], kHexChar) || !is(host[i + 2], kHexChar)) {
        return false;
      }
      i += 2;
    } else if (!is(c, kRegNameChar) || (c == '.' && previous == '.')) {
      return false;
    }
    previous = c;
  }
  return true;
}

// The inside of "[...]": an IPv6 address or an IPvFuture.
bool valid_ip_literal(std::string_view inside) {
  if (inside.empty()) {
    return false;
  }
  if (inside[0] == 'v' || inside[0] == 'V') {
    const size_t dot = inside.find('.');
    if (dot == std::string_view::npos || dot < 2 || dot + 1 == inside.size()) {
      return false;
    }
    if (!all_of_class(inside.substr(1, dot - 1), kHexChar)) {
      return false;
    }
    for (char c : inside.substr(dot + 1)) {
      if (!is(c, kRegNameChar) && c != ':') {
        return false;
      }
    }
    return true;
  }
  char text[INET6_ADDRSTRLEN];
  if (inside.size() >= sizeof(text)) {
    return false;
  }
  std::memcpy(text, inside.data(), inside.size());
  text[inside.size()] = '\0';
  in6_addr address;
  return inet_pton(AF_INET6, text, &address) == 1;
}

}  // namespace

bool valid_authority(std::string_view authority, bool port_required) {
  if (authority.empty()) {
    return false;
  }
  std::string_view rest;
  if (authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || !valid_ip_literal(authority.substr(1, close - 1))) {
      return false;
    }
    rest = authority.substr(close + 1);
  } else {
    const size_t colon = authority.find(':');
    if (!valid_reg_name(authority.substr(0, colon))) {
      return false;
    }
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (rest.empty()) {
    return !port_required;
  }
  return rest[0] == ':' && valid_port(rest.substr(1), port_required);
}

// --- Framing fields ------------------------------------------------------------------------

Coding classify_transfer_encoding(std::string_view value) {
  if (value.find('\t') != std::string_view::npos) {
    return Coding::kMalformed;
  }
  if (ascii_iequals(value, "chunked")) {
    return Coding::kChunked;
  }
  size_t chunked_count = 0;
  bool malformed = false;
  std::string_view last;
  for_each_element(value, [&](std::string_view element) {
    // transfer-coding = token *( OWS ";" OWS transfer-parameter )
    const std::string_view name = trim(element.substr(0, element.find(';')), true);
    if (name.empty() || !all_of_class(name, kTokenChar)) {
      malformed = true;
    }
    for (char c : element) {
      if (!is(c, kTokenChar) && c != ';' && c != '=' && c != ' ' && c != '"') {
        malformed = true;
      }
    }
    chunked_count += ascii_iequals(name, "chunked") ? 1 : 0;
    last = name;
  });
  if (malformed) {
    return Coding::kMalformed;
  }
  if (!ascii_iequals(last, "chunked")) {
    return Coding::kChunkedNotFinal;
  }
  // chunked twice, or with parameters it does not have.
  if (chunked_count > 1 || trim(value.substr(value.rfind(',') + 1), true) != last) {
    return Coding::kMalformed;
  }
  return Coding::kUnsupported;
}

Length parse_content_length(std::string_view value, uint64_t max, uint64_t& out) {
  if (value.empty()) {
    return Length::kMalformed;
  }
  uint64_t n = 0;
  bool too_large = false;
  for (char c : value) {
    if (!is_digit(c)) {
      return Length::kMalformed;
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - digit) / 10) {
      too_large = true;  // keep checking the syntax: a malformed value is a 400
    } else {
      n = n * 10 + digit;
    }
  }
  if (too_large || n > max) {
    return Length::kTooLarge;
  }
  out = n;
  return Length::kValid;
}

bool valid_chunk_extensions(std::string_view s) {
  size_t i = 0;
  const auto skip_bws = [&] {
    while (i < s.size() && is_ows(s[i])) {
      ++i;
    }
  };
  const auto token = [&] {
    const size_t start = i;
    while (i < s.size() && is(s[i], kTokenChar)) {
      ++i;
    }
    return i > start;
  };
  while (i < s.size()) {
    // Whitespace only before ";" or "=": "5 \r\n" or "5;a \r\n" are refused.
    skip_bws();
    if (i == s.size() || s[i] != ';') {
      return false;
    }
    ++i;
    skip_bws();
    if (!token()) {
      return false;
    }
    const size_t after_name = i;
    skip_bws();
    if (i == s.size() || s[i] != '=') {
      i = after_name;
      continue;
    }
    ++i;
    skip_bws();
    if (i < s.size() && s[i] == '"') {
      ++i;
      for (;;) {
        if (i == s.size()) {
          return false;
        }
        const char c = s[i++];
        if (c == '"') {
          break;
        }
        if (c == '\\') {
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
          if (i == s.size() || !(is(s[i], kQdTextChar) || s[i] == '"' || s[i] == '\\')) {
            return false;
          }
          ++i;
        } else if (!is(c, kQdTextChar)) {
          return false;
        }
      }
    } else if (!token()) {
      return false;
    }
  }
  return true;
}

// Fields dropped from trailers: they can only be acted on before the body (RFC 9110
// §6.5.1): framing, routing, hop-by-hop fields, authentication, request modifiers and
// content format. The list follows the one Go's net/http refuses (RFC 7230 §4.1.2) with the
// other hop-by-hop fields (upgrade), cookies and conditional fields added.
namespace {

constexpr std::string_view kForbiddenTrailers[] = {"authorization",
                                                   "cache-control",
                                                   "connection",
                                                   "content-encoding",
                                                   "content-length",
                                                   "content-range",
                                                   "content-type",
                                                   "cookie",
                                                   "expect",
                                                   "host",
                                                   "if-match",
                                                   "if-modified-since",
                                                   "if-none-match",
                                                   "if-range",
                                                   "if-unmodified-since",
                                                   "keep-alive",
                                                   "max-forwards",
                                                   "pragma",
                                                   "proxy-authenticate",
                                                   "proxy-authorization",
                                                   "proxy-connection",
                                                   "range",
                                                   "set-cookie",
                                                   "te",
                                                   "trailer",
                                                   "transfer-encoding",
                                                   "upgrade",
                                                   "www-authenticate"};

}  // namespace

bool forbidden_in_trailers(std::string_view name) {
  for (std::string_view forbidden : kForbiddenTrailers) {
    if (name_is(name, forbidden)) {
      return true;
    }
  }
  return false;
}

std::string_view request_line_problem(std::string_view line, bool complete) {
  const size_t sp1 = line.find(' ');
  if (sp1 == 0) {
    return "malformed request line";
  }
  // A method is a token (RFC 9110 §9.1); like nginx, weir takes only upper-case letters, '-'
  // and '_', which every registered method fits. A lower-case "method" is most often the
  // leftover body of a previous request whose framing the client got wrong ("helloGET").
  if (!all_of_class(line.substr(0, sp1), kMethodChar)) {
    return "invalid method";
  }
  if (sp1 == std::string_view::npos) {
    return complete ? "malformed request line" : "";
  }
  const size_t sp2 = line.find(' ', sp1 + 1);
  const std::string_view target_text = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (sp2 == sp1 + 1 || !valid_target(target_text.data(), target_text.size())) {
    return "invalid request target";
  }
  if (sp2 == std::string_view::npos) {
    // "GET /" alone is HTTP/0.9, which has no headers to end it: refuse it at once.
    return complete ? "missing HTTP version" : "";
  }
  const std::string_view version = line.substr(sp2 + 1);
  constexpr std::string_view kPattern = "HTTP/1.0";
  for (size_t i = 0; i < version.size(); ++i) {
    if (i >= kPattern.size()) {
      return "malformed HTTP version";
    }
    if (i == 5 || i == 7) {
      if (!is_digit(version[i])) {
        return "malformed HTTP version";
      }
      if (i == 5 && version[i] != '1') {
        return "unsupported HTTP version";
      }
    } else if (version[i] != kPattern[i]) {
      return "malformed HTTP version";
    }
  }
  return complete && version.size() != kPattern.size() ? "malformed HTTP version" : "";
}

}  // namespace weir::http::syntax
