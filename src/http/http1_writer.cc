#include "http/http1_writer.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace weir::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// Header values may come from plugins. CR, LF or NUL would let them end the line and
// inject fields or whole messages (response splitting), so they are dropped on output.
bool is_line_breaking(char c) { return c == '\r' || c == '\n' || c == '\0'; }

// Whether any of the 8 bytes of `word` is below 0x0E (which CR, LF and NUL are): the
// classic SWAR test, so that clean text (nearly all of it) is checked a word at a time.
inline bool may_break_line(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  return ((word - kOnes * 0x0E) & ~word & kHighs) != 0;
}

inline bool may_break_line4(uint32_t word) {
  return ((word - 0x0E0E0E0Eu) & ~word & 0x80808080u) != 0;
}

// Copies `s` to `p`, less any CR, LF and NUL; returns the end of what was written. Checks
// and copies a word at a time; the last partial word is done as an overlapping word.
char* copy_line_safe(char* p, std::string_view s) {
  const char* in = s.data();
  const size_t n = s.size();
  if (n < 8) {
    if (n >= 4) {
      uint32_t head, tail;
      std::memcpy(&head, in, 4);
      std::memcpy(&tail, in + n - 4, 4);
      if (!may_break_line4(head) && !may_break_line4(tail)) {
        std::memcpy(p, &head, 4);
        std::memcpy(p + n - 4, &tail, 4);
        return p + n;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (!is_line_breaking(in[i])) *p++ = in[i];
    }
    return p;
  }
  size_t i = 0;
  bool dropped = false;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, in + i, 8);
    if (!may_break_line(word)) {
      std::memcpy(p, &word, 8);
      p += 8;
      continue;
    }
    for (size_t k = 0; k < 8; ++k) {
      if (!is_line_breaking(in[i + k])) {
        *p++ = in[i + k];
      } else {
        dropped = true;
      }
    }
  }
  if (i == n) return p;
  if (!dropped) {
    // The last 8 input bytes end where the output will: written over what the last full
    // word put there (the same bytes) when they are clean.
    uint64_t word;
    std::memcpy(&word, in + n - 8, 8);
    if (!may_break_line(word)) {
      std::memcpy(p + (n - i) - 8, &word, 8);
      return p + (n - i);
    }
  }
  for (; i < n; ++i) {
    if (!is_line_breaking(in[i])) *p++ = in[i];
  }
  return p;
}

bool is_pseudo(std::string_view name) { return !name.empty() && name.front() == ':'; }

// Writes a head straight into `out`: room for the most it can take is made first, then
// bytes are copied without per-append capacity checks, and `out` is cut to what was
// written at the end.
class HeadWriter {
 public:
  HeadWriter(std::string& out, size_t most) : out_(out), start_(out.size()) {
    out_.resize(start_ + most);
    p_ = out_.data() + start_;
  }
  ~HeadWriter() { out_.resize(static_cast<size_t>(p_ - out_.data())); }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;

  void text(std::string_view s) { p_ = copy_line_safe(p_, s); }
  // Our own bytes (literals): copied as they are.
  void literal(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void field(std::string_view name, std::string_view value) {
    text(name);
    literal(": ");
    text(value);
    literal(kCrlf);
  }

 private:
  std::string& out_;
  size_t start_;
  char* p_;
};

// The most a head of these fields can take: names, values, ": " and CRLF per field, plus
// `extra` for the start line and what the caller adds.
size_t most_bytes(const HeaderMap& headers, size_t extra) {
  return headers.byte_size() + headers.size() * 4 + extra + 2;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls `fn` with each non-empty element of a comma-separated list, trimmed.
template <typename Fn>
void for_each_list_element(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty()) {
      fn(element);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
}

// Always hop-by-hop (RFC 9110 §7.6.1 and the legacy proxy-connection); te is handled apart.
bool is_hop_by_hop(std::string_view name) {
  switch (name.size()) {
    case 7:
      return name == "upgrade";
    case 10:
      return name == "connection" || name == "keep-alive";
    case 16:
      return name == "proxy-connection";
    case 17:
      return name == "transfer-encoding";
    default:
      return false;
  }
}

// Fields a Connection header may not make us drop: removing them would change where the
// message goes or how its body is framed downstream (hop-by-hop header abuse).
bool is_protected_from_connection(std::string_view name) {
  return is_pseudo(name) || iequals(name, "host") || iequals(name, "content-length");
}

// What stripping the hop-by-hop fields of a map means, learnt in one pass over it: both
// strip_hop_by_hop_headers and write_forwarded_request_head follow it, so the two cannot
// disagree about what leaves this hop.
class HopByHopPlan {
 public:
  explicit HopByHopPlan(const HeaderMap& headers) {
    using K = KnownHeader;
    // The index answers which hop-by-hop fields are there (usually none on a request, and
    // "connection: keep-alive" on a response) without a pass over the map.
    any_doomed_ = headers.get(K::kConnection) || headers.get(K::kKeepAlive) ||
                  headers.get(K::kProxyConnection) || headers.get(K::kTransferEncoding) ||
                  headers.get(K::kUpgrade);
    has_te_ = headers.get(K::kTe).has_value();
    if (!has_te_ && !headers.get(K::kConnection)) return;
    for (const auto& [name, value] : headers.entries()) {
      if (name == "connection") {
        for_each_list_element(value, [&](std::string_view option) {
          switch (classify_header(option)) {
            case K::kConnection:
            case K::kKeepAlive:
            case K::kProxyConnection:
            case K::kTransferEncoding:
            case K::kUpgrade:
              return;  // goes anyway
            default:
              break;
          }
          if (is_protected_from_connection(option)) return;
          nominated_.push_back(to_lower(option));
        });
      } else if (name == "te") {
        for_each_list_element(value, [&](std::string_view coding) {
          if (iequals(trim_ows(coding.substr(0, coding.find(';'))), "trailers")) {
            te_allows_trailers_ = true;
          }
        });
      }
    }
    // "te: trailers" is the one TE value meant for the next hop too (gRPC relies on it),
    // even when Connection names te; any other te goes.
    drop_te_ = !te_allows_trailers_ || nominated("te");
  }

  // Nothing to strip: the map goes on as it is.
  bool nothing() const { return !any_doomed_ && !has_te_; }
  // Whether the (lower-case) field `name` leaves this hop. te fields that stay become one
  // "te: trailers" where the first was.
  bool doomed(std::string_view name) const {
    if (is_hop_by_hop(name)) return true;
    if (name == "te") return drop_te_;
    return !nominated_.empty() && nominated(name);
  }
  // A "te: trailers" goes on: in place of the first te field (te_kept_in_place), or, when
  // Connection named te, after the other fields.
  bool te_trailers() const { return has_te_ && te_allows_trailers_; }
  bool te_kept_in_place() const { return te_trailers() && !drop_te_; }

 private:
  bool nominated(std::string_view name) const {
    for (const std::string& n : nominated_) {
      if (n == name) return true;
    }
    return false;
  }

  std::vector<std::string> nominated_;  // by Connection, beyond the always-removed ones
  bool any_doomed_ = false;
  bool has_te_ = false;
  bool te_allows_trailers_ = false;
  bool drop_te_ = false;
};

// The request line and the host field (from :authority unless there is a host field).
void write_request_start(const HeaderMap& headers, HeadWriter& w) {
  w.text(headers.get(KnownHeader::kMethod).value_or("GET"));
  w.literal(" ");
  w.text(headers.get(KnownHeader::kPath).value_or("/"));
  w.literal(" HTTP/1.1\r\n");
  if (auto authority = headers.get(KnownHeader::kAuthority);
      authority && !headers.get(KnownHeader::kHost)) {
    w.field("host", *authority);
  }
}

void write_fields(const HeaderMap& headers, HeadWriter& w) {
  for (const auto& [name, value] : headers.entries()) {
    if (name.empty() || is_pseudo(name)) continue;
    w.field(name, value);
  }
}

}  // namespace

void write_request_head(const HeaderMap& headers, std::string& out) {
  HeadWriter w(out, most_bytes(headers, 32 + 8));
  write_request_start(headers, w);
  write_fields(headers, w);
  w.literal(kCrlf);
}

void write_forwarded_request_head(const HeaderMap& headers, std::string_view drop,
                                  std::span<const Field> append, std::string& out) {
  const HopByHopPlan plan(headers);
  size_t extra = 32 + 8 + 16;  // start line, host, "te: trailers"
  for (const Field& field : append) extra += field.first.size() + field.second.size() + 4;
  HeadWriter w(out, most_bytes(headers, extra));
  write_request_start(headers, w);
  bool te_written = false;
  for (const auto& [name, value] : headers.entries()) {
    if (name.empty() || is_pseudo(name) || name == drop) continue;
    if (!plan.nothing() && plan.doomed(name)) continue;
    if (name == "te" && plan.te_kept_in_place()) {
      if (!te_written) w.field("te", "trailers");
      te_written = true;
      continue;
    }
    w.field(name, value);
  }
  if (plan.te_trailers() && !plan.te_kept_in_place()) w.field("te", "trailers");
  for (const Field& field : append) w.field(field.first, field.second);
  w.literal(kCrlf);
}

void write_response_head(const HeaderMap& headers, std::string& out) {
  int status = 0;
  if (auto value = headers.get(KnownHeader::kStatus); value && value->size() == 3) {
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), status);
    if (ec != std::errc() || end != value->data() + value->size()) {
      status = 0;
    }
  }
  // A head without a usable status is a bug upstream of us; say so rather than guess.
  if (status < 100 || status > 999) {
    status = 500;
  }
  const std::string_view reason = reason_phrase(status);
  HeadWriter w(out, most_bytes(headers, 16 + reason.size()));
  const char start[13] = {'H',
                          'T',
                          'T',
                          'P',
                          '/',
                          '1',
                          '.',
                          '1',
                          ' ',
                          static_cast<char>('0' + status / 100),
                          static_cast<char>('0' + status / 10 % 10),
                          static_cast<char>('0' + status % 10),
                          ' '};
  w.literal(std::string_view(start, sizeof start));
  w.literal(reason);
  w.literal(kCrlf);
  write_fields(headers, w);
  w.literal(kCrlf);
}

void write_chunk(std::string_view data, std::string& out) {
  if (data.empty()) {
    return;  // a zero-size chunk would end the body
  }
  char hex[16];
  auto [end, ec] = std::to_chars(hex, hex + sizeof(hex), data.size(), 16);
  out.reserve(out.size() + (end - hex) + data.size() + 4);
  out.append(hex, end);
  out.append(kCrlf);
  out.append(data);
  out.append(kCrlf);
}

void write_last_chunk(const HeaderMap* trailers, std::string& out) {
  out.append("0\r\n");
  if (trailers != nullptr) {
    HeadWriter w(out, most_bytes(*trailers, 0));
    write_fields(*trailers, w);
  }
  out.append(kCrlf);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 306:
      return "Unused";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 423:
      return "Locked";
    case 424:
      return "Failed Dependency";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

void strip_hop_by_hop_headers(HeaderMap& headers) {
  const HopByHopPlan plan(headers);
  if (plan.nothing()) return;
  headers.remove_if([&](std::string_view name) { return plan.doomed(name); });
  if (plan.te_trailers()) headers.set(KnownHeader::kTe, "trailers");
}

}  // namespace weir::http
