#include "http/http1_writer.h"

#include <charconv>
#include <cstdint>
#include <cstring>
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

void append_line_safe(std::string& out, std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if (may_break_line(word)) break;
  }
  for (; i < s.size(); ++i) {
    if (is_line_breaking(s[i])) break;
  }
  if (i == s.size()) {
    out.append(s);
    return;
  }
  // Rare: drop the offending bytes.
  size_t start = 0;
  for (; i < s.size(); ++i) {
    if (is_line_breaking(s[i])) {
      out.append(s.data() + start, i - start);
      start = i + 1;
    }
  }
  out.append(s.data() + start, s.size() - start);
}

bool is_pseudo(std::string_view name) { return !name.empty() && name.front() == ':'; }

void append_fields(const HeaderMap& headers, std::string& out) {
  for (const auto& [name, value] : headers.entries()) {
    if (name.empty() || is_pseudo(name)) {
      continue;
    }
    append_line_safe(out, name);
    out.append(": ");
    append_line_safe(out, value);
    out.append(kCrlf);
  }
}

size_t estimated_size(const HeaderMap& headers) {
  // Names, values, ": " and CRLF per field, plus a start line.
  return headers.byte_size() + headers.size() * 4 + 32;
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

}  // namespace

void write_request_head(const HeaderMap& headers, std::string& out) {
  out.reserve(out.size() + estimated_size(headers));
  const std::string_view method = headers.get(":method").value_or("GET");
  const std::string_view path = headers.get(":path").value_or("/");
  append_line_safe(out, method);
  out.push_back(' ');
  append_line_safe(out, path);
  out.append(" HTTP/1.1\r\n");
  if (auto authority = headers.get(":authority"); authority && !headers.get("host")) {
    out.append("host: ");
    append_line_safe(out, *authority);
    out.append(kCrlf);
  }
  append_fields(headers, out);
  out.append(kCrlf);
}

void write_response_head(const HeaderMap& headers, std::string& out) {
  out.reserve(out.size() + estimated_size(headers));
  int status = 0;
  if (auto value = headers.get(":status"); value && value->size() == 3) {
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), status);
    if (ec != std::errc() || end != value->data() + value->size()) {
      status = 0;
    }
  }
  // A head without a usable status is a bug upstream of us; say so rather than guess.
  if (status < 100 || status > 999) {
    status = 500;
  }
  char digits[3] = {static_cast<char>('0' + status / 100),
                    static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10)};
  out.append("HTTP/1.1 ");
  out.append(digits, 3);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append(kCrlf);
  append_fields(headers, out);
  out.append(kCrlf);
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
    append_fields(*trailers, out);
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
  // One pass to learn what the Connection and TE fields ask (usually nothing), then one
  // pass that removes every doomed field. Names are stored lower-case: exact compares.
  std::vector<std::string> nominated;  // by Connection, beyond the always-removed ones
  bool any_doomed = false;
  bool has_te = false;
  bool te_allows_trailers = false;
  for (const auto& [name, value] : headers.entries()) {
    if (is_hop_by_hop(name)) {
      any_doomed = true;
      if (name == "connection") {
        for_each_list_element(value, [&](std::string_view option) {
          if (is_protected_from_connection(option)) return;
          std::string lower = to_lower(option);
          if (is_hop_by_hop(lower)) return;  // goes anyway
          nominated.push_back(std::move(lower));
        });
      }
    } else if (name == "te") {
      has_te = true;
      for_each_list_element(value, [&](std::string_view coding) {
        if (iequals(trim_ows(coding.substr(0, coding.find(';'))), "trailers")) {
          te_allows_trailers = true;
        }
      });
    }
  }
  if (!any_doomed && !has_te) return;
  const auto is_nominated = [&](std::string_view name) {
    for (const std::string& n : nominated) {
      if (n == name) return true;
    }
    return false;
  };
  bool te_nominated = is_nominated("te");
  // "te: trailers" is the one TE value meant for the next hop too (gRPC relies on it), even
  // when Connection names te; any other te goes.
  const bool drop_te = !te_allows_trailers || te_nominated;
  headers.remove_if([&](std::string_view name) {
    if (is_hop_by_hop(name)) return true;
    if (name == "te") return drop_te;
    return !nominated.empty() && is_nominated(name);
  });
  if (has_te && te_allows_trailers) headers.set("te", "trailers");
}

}  // namespace weir::http
