#include "http/http1_parser.h"

#include <array>
#include <cassert>
#include <cstring>
#include <exception>
#include <new>
#include <utility>
#include <vector>

#include "http/http1_syntax.h"

// How it works: a head (start line and fields) or a trailer section is parsed one complete
// line at a time, in place in the fed buffer; fields are kept as offsets into it, and the
// HeaderMap is built once the section is complete and valid. When a section does not end in
// the buffer, its bytes so far are copied aside (and only then), and the following feeds
// append to that copy one line at a time. Bodies are handed to the visitor as views into the
// fed buffer. Everything is bounded as it arrives, before a line is complete.

namespace weir::http {

using namespace syntax;  // NOLINT(google-build-using-namespace): the grammar the parser applies

namespace {

// How much of an incomplete request line is checked before its end arrives.
constexpr size_t kEarlyCheckBytes = 1024;
// Fields a proxy usually adds to a head it forwards (x-request-id, x-forwarded-*, date,
// server, ...): reserved with the map so that adding them does not regrow it.
constexpr size_t kRoomForAddedFields = 6;
// Field references made room for up front: a parser made per upstream request would
// otherwise regrow its list four times on a typical head.
constexpr size_t kFieldsReserved = 16;

}  // namespace

struct Http1Parser::Impl {
  enum class State : uint8_t {
    kHead,         // start line and header fields
    kBodyLength,   // content-length body: `remaining` bytes to go
    kChunkSize,    // a chunk-size line
    kChunkData,    // `remaining` bytes of chunk data
    kChunkDataCr,  // the CRLF after chunk data
    kChunkDataLf,
    kTrailers,   // trailer fields, up to the empty line
    kBodyToEof,  // a response body delimited by connection close
  };
  enum class FieldKind : uint8_t {
    kOther,
    kHost,
    kContentLength,
    kTransferEncoding,
    kConnection,
    kUpgrade,
    kExpect
  };
  // A field of the section being parsed, as offsets from the section's first byte.
  struct FieldRef {
    uint32_t name;
    uint32_t name_size;
    uint32_t value;  // trimmed
    uint32_t value_size;
    FieldKind kind;
    bool tab_in_value;  // anywhere, before trimming: refused in framing fields
  };
  enum class LineResult { kNext, kSectionEnd, kError };

  Impl(Http1Parser& owner, MessageType type, Http1Visitor& visitor, ParserLimits limits,
       std::vector<FieldRef> reused_fields = {}, std::string reused_buffer = {})
      : owner(owner),
        type(type),
        visitor(visitor),
        limits(limits),
        request(type == MessageType::Request),
        bare_lf_ends_lines(type == MessageType::Response),
        buffer(std::move(reused_buffer)),
        fields(std::move(reused_fields)) {
    buffer.clear();
    if (fields.capacity() < kFieldsReserved) fields.reserve(kFieldsReserved);
  }

  bool fail(int http_status, std::string_view reason);

  size_t run(const char* begin, const char* end);
  bool parse_section(const char*& p, const char* end);
  LineResult process_line(const char* base, size_t start, size_t size);
  bool line_content(const char* line, size_t& size);
  bool check_partial_line(const char* base, size_t start, size_t size);
  bool check_request_line_start(std::string_view line);
  LineResult parse_request_line(const char* base, size_t start, size_t size);
  LineResult parse_status_line(const char* line, size_t size);
  LineResult parse_field_line(const char* base, size_t start, size_t size);
  bool finish_head(const char* base);
  bool finish_request_head(const char* base, bool& has_body);
  bool finish_response_head(bool& has_body, bool& skip_body);
  bool analyse_framing(const char* base);
  void build_request_headers(const char* base);
  void build_response_headers(const char* base);
  void add_fields(const char* base, bool skip_host);
  void finish_trailers(const char* base);
  bool take_chunk_line(const char*& p, const char* end, std::string_view& line);
  bool parse_chunk_line(std::string_view line);
  void complete_message();
  void start_message();
  void start_section();

  Http1Parser& owner;
  const MessageType type;
  Http1Visitor& visitor;
  const ParserLimits limits;
  const bool request;
  const bool bare_lf_ends_lines;

  State state = State::kHead;
  // The current section (head or trailers) or chunk line when it did not fit in one feed.
  std::string buffer;
  size_t line_start = 0;  // offset in `buffer` of the line being received
  // Per section.
  std::vector<FieldRef> fields;  // kept across messages: no allocation once warmed up
  size_t field_count = 0;
  size_t header_bytes = 0;
  bool start_line_done = false;
  bool request_line_start_checked = false;  // its first kEarlyCheckBytes passed
  int leading_empty_lines = 0;

  // Per message: the start line, as offsets from the head's first byte.
  uint32_t method = 0, method_size = 0, target = 0, target_size = 0;
  int status = 0;
  MessageHead head;
  bool informational = false;
  uint64_t remaining = 0;
  HeaderMap headers;

  bool paused = false;      // stopped after a message; resume() continues
  bool discarding = false;  // a message ended the connection; later bytes are dropped
  bool eof = false;
  bool executing = false;
};

bool Http1Parser::Impl::fail(int http_status, std::string_view reason) {
  owner.has_error_ = true;
  // Whatever went wrong in a response, the peer to answer is our client: 502.
  owner.error_.http_status = request ? http_status : 502;
  owner.error_.reason.assign(reason);
  return false;
}

void Http1Parser::Impl::start_section() {
  field_count = 0;
  header_bytes = 0;
  line_start = 0;
  buffer.clear();
}

void Http1Parser::Impl::start_message() {
  state = State::kHead;
  start_section();
  start_line_done = false;
  request_line_start_checked = false;
  leading_empty_lines = 0;
  head = MessageHead{};
  informational = false;
  remaining = 0;
}

// Strips the line ending from a line (the bytes before its LF). A bare LF is an error in
// requests, where peers might disagree on it; accepted from upstreams, as nginx does.
bool Http1Parser::Impl::line_content(const char* line, size_t& size) {
  if (size > 0 && line[size - 1] == '\r') {
    --size;
    return true;
  }
  return bare_lf_ends_lines || fail(400, "line ends in a bare LF");
}

bool Http1Parser::Impl::parse_section(const char*& p, const char* end) {
  if (buffer.empty()) {
    // In place: lines are parsed where they are, fields recorded relative to `base`.
    const char* base = p;
    size_t pos = 0;
    for (;;) {
      const char* lf = static_cast<const char*>(
          std::memchr(base + pos, '\n', static_cast<size_t>(end - base) - pos));
      if (lf == nullptr) {
        const size_t size = static_cast<size_t>(end - base);
        if (!check_partial_line(base, pos, size - pos)) {
          return false;
        }
        // The section continues in the next feed: keep what we have (but empty lines before
        // a start line, which nothing refers to).
        const size_t keep_from = state == State::kHead && !start_line_done ? pos : 0;
        buffer.assign(base + keep_from, size - keep_from);
        line_start = pos - keep_from;
        p = end;
        return false;
      }
      const size_t size = static_cast<size_t>(lf - base) - pos;
      const LineResult result = process_line(base, pos, size);
      pos += size + 1;
      if (result == LineResult::kError) {
        return false;
      }
      if (result == LineResult::kSectionEnd) {
        p = base + pos;
        return state == State::kHead ? finish_head(base) : (finish_trailers(base), true);
      }
    }
  }
  // Buffered: append one line at a time, so that nothing after the section is copied.
  for (;;) {
    const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const size_t take = lf ? static_cast<size_t>(lf - p) + 1 : static_cast<size_t>(end - p);
    buffer.append(p, take);
    p += take;
    if (lf == nullptr) {
      check_partial_line(buffer.data(), line_start, buffer.size() - line_start);
      return false;
    }
    const size_t size = buffer.size() - 1 - line_start;
    const LineResult result = process_line(buffer.data(), line_start, size);
    line_start = buffer.size();
    if (result == LineResult::kError) {
      return false;
    }
    if (result == LineResult::kSectionEnd) {
      // (Both clear the buffer once the section's map is built.)
      if (state == State::kHead) {
        return finish_head(buffer.data());
      }
      finish_trailers(buffer.data());
      return true;
    }
    if (state == State::kHead && !start_line_done) {
      buffer.clear();  // an empty line before the start line: nothing to keep
      line_start = 0;
    }
    if (p == end) {
      return false;
    }
  }
}

// Bounds a line before its end has arrived, by the same limits a complete line is held to,
// so that whether an input fails never depends on where the reads split it.
bool Http1Parser::Impl::check_partial_line(const char* base, size_t start, size_t size) {
  const char* line = base + start;
  if (size > 0 && line[size - 1] == '\r') {
    --size;  // its LF may be next
  }
  if (state == State::kHead && !start_line_done) {
    if (size == 0) {
      return true;
    }
    if (request && !check_request_line_start(std::string_view(line, size))) {
      return false;
    }
    if (size > limits.max_request_line_bytes) {
      return fail(414, request ? "request line too long" : "status line too long");
    }
    if (!request) {
      const std::string_view expected = "HTTP/";
      const size_t n = std::min(size, expected.size());
      if (std::string_view(line, n) != expected.substr(0, n)) {
        return fail(502, "malformed status line");
      }
    }
    return true;
  }
  // A field line: all of it but the colon counts as header bytes.
  if (size > 1 && header_bytes + size - 1 > limits.max_header_bytes) {
    return fail(431, state == State::kHead ? "header section too large" : "trailers too large");
  }
  return true;
}

Http1Parser::Impl::LineResult Http1Parser::Impl::process_line(const char* base, size_t start,
                                                              size_t size) {
  if (state == State::kHead && !start_line_done) {
    if (!line_content(base + start, size)) {
      return LineResult::kError;
    }
    if (size == 0) {
      if (++leading_empty_lines > kMaxLeadingEmptyLines) {
        fail(400, "too many empty lines before the start line");
        return LineResult::kError;
      }
      return LineResult::kNext;
    }
    // (In the same order as for an incomplete line.)
    if (request && !check_request_line_start(std::string_view(base + start, size))) {
      return LineResult::kError;
    }
    if (size > limits.max_request_line_bytes) {
      fail(414, request ? "request line too long" : "status line too long");
      return LineResult::kError;
    }
    start_line_done = true;
    return request ? parse_request_line(base, start, size) : parse_status_line(base + start, size);
  }
  return parse_field_line(base, start, size);
}

// Garbage (a TLS handshake, say) shows in the first bytes of a request line: they are
// checked as they arrive, without waiting for the line end. Only the first kEarlyCheckBytes,
// and each byte of them about once, so that a line trickled in byte by byte costs linear
// time; the whole line is checked when it ends. The same bytes are checked however the line
// was split into reads, so that the verdict never depends on it.
bool Http1Parser::Impl::check_request_line_start(std::string_view line) {
  if (request_line_start_checked) {
    return true;
  }
  const std::string_view problem = request_line_problem(line.substr(0, kEarlyCheckBytes), false);
  if (!problem.empty()) {
    return fail(400, problem);
  }
  request_line_start_checked = line.size() >= kEarlyCheckBytes;
  return true;
}

Http1Parser::Impl::LineResult Http1Parser::Impl::parse_request_line(const char* base, size_t start,
                                                                    size_t size) {
  const std::string_view line(base + start, size);
  if (const std::string_view problem = request_line_problem(line, true); !problem.empty()) {
    fail(400, problem);
    return LineResult::kError;
  }
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 + 1);
  head.http_major = 1;
  head.http_minor = line[sp2 + 8] - '0';
  method = static_cast<uint32_t>(start);
  method_size = static_cast<uint32_t>(sp1);
  target = static_cast<uint32_t>(start + sp1 + 1);
  target_size = static_cast<uint32_t>(sp2 - sp1 - 1);
  header_bytes = method_size + target_size;
  if (header_bytes > limits.max_header_bytes) {
    fail(431, "header section too large");
    return LineResult::kError;
  }
  return LineResult::kNext;
}

// status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]; the SP before an empty reason
// may be missing (as nginx and most clients accept from servers).
Http1Parser::Impl::LineResult Http1Parser::Impl::parse_status_line(const char* line, size_t size) {
  const std::string_view s(line, size);
  if (s.size() < 12 || s.substr(0, 5) != "HTTP/" || !is_digit(s[5]) || s[6] != '.' ||
      !is_digit(s[7]) || s[8] != ' ' || !is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]) ||
      (s.size() > 12 && s[12] != ' ')) {
    fail(502, "malformed status line");
    return LineResult::kError;
  }
  if (s[5] != '1') {
    fail(502, "unsupported HTTP version");
    return LineResult::kError;
  }
  status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  if (status < 100) {
    fail(502, "invalid status code");
    return LineResult::kError;
  }
  if (s.size() > 13 && !valid_field_value(line + 13, size - 13)) {
    fail(502, "invalid character in reason phrase");
    return LineResult::kError;
  }
  head.http_major = 1;
  head.http_minor = s[7] - '0';
  header_bytes = size;
  if (header_bytes > limits.max_header_bytes) {
    fail(431, "header section too large");
    return LineResult::kError;
  }
  return LineResult::kNext;
}

Http1Parser::Impl::LineResult Http1Parser::Impl::parse_field_line(const char* base, size_t start,
                                                                  size_t size) {
  const char* line = base + start;
  if (!line_content(line, size)) {
    return LineResult::kError;
  }
  if (size == 0) {
    return LineResult::kSectionEnd;
  }
  const bool in_head = state == State::kHead;
  const auto error = [this](int status_code, std::string_view why) {
    fail(status_code, why);
    return LineResult::kError;
  };
  if (is_ows(line[0])) {
    // obs-fold: never joined, never forwarded (RFC 9112 §5.2 lets a server refuse it).
    return error(400, "obs-fold or whitespace at the start of a field line");
  }
  if (field_count >= limits.max_headers) {
    return error(431, in_head ? "too many header fields" : "too many trailer fields");
  }
  size_t colon = 0;
  while (colon < size && is(line[colon], kTokenChar)) {
    ++colon;
  }
  if (colon == 0 && size > 0 && line[0] == ':') {
    return error(400, "empty field name");
  }
  if (colon == size || line[colon] != ':') {
    if (colon < size && is_ows(line[colon])) {
      return error(400, "whitespace between field name and colon");
    }
    return error(400,
                 colon == size ? "field line without a colon" : "invalid character in field name");
  }
  header_bytes += size - 1;
  if (header_bytes > limits.max_header_bytes) {
    return error(431, in_head ? "header section too large" : "trailers too large");
  }
  if (!valid_field_value(line + colon + 1, size - colon - 1)) {
    return error(400, "invalid character in field value");
  }
  size_t value_begin = colon + 1;
  size_t value_end = size;
  while (value_begin < value_end && is_ows(line[value_begin])) {
    ++value_begin;
  }
  while (value_end > value_begin && is_ows(line[value_end - 1])) {
    --value_end;
  }
  const std::string_view name(line, colon);
  FieldKind kind = FieldKind::kOther;
  if (in_head) {
    switch (name.size()) {
      case 4:
        kind = name_is(name, "host") ? FieldKind::kHost : kind;
        break;
      case 6:
        kind = name_is(name, "expect") ? FieldKind::kExpect : kind;
        break;
      case 7:
        kind = name_is(name, "upgrade") ? FieldKind::kUpgrade : kind;
        break;
      case 10:
        kind = name_is(name, "connection") ? FieldKind::kConnection : kind;
        break;
      case 14:
        kind = name_is(name, "content-length") ? FieldKind::kContentLength : kind;
        break;
      case 17:
        kind = name_is(name, "transfer-encoding") ? FieldKind::kTransferEncoding : kind;
        break;
      default:
        break;
    }
  }
  const bool tab_in_value =
      (kind == FieldKind::kContentLength || kind == FieldKind::kTransferEncoding) &&
      std::memchr(line + colon + 1, '\t', size - colon - 1) != nullptr;
  if (field_count == fields.size()) {
    fields.emplace_back();
  }
  fields[field_count++] = FieldRef{static_cast<uint32_t>(start),
                                   static_cast<uint32_t>(colon),
                                   static_cast<uint32_t>(start + value_begin),
                                   static_cast<uint32_t>(value_end - value_begin),
                                   kind,
                                   tab_in_value};
  return LineResult::kNext;
}

// Checks the head as a whole, decides the framing, and hands the head to the visitor.
bool Http1Parser::Impl::finish_head(const char* base) {
  if (!analyse_framing(base)) {
    return false;
  }
  bool has_body = false;
  bool skip_body = false;
  if (request) {
    if (!finish_request_head(base, has_body)) {
      return false;
    }
    build_request_headers(base);
  } else {
    if (!finish_response_head(has_body, skip_body)) {
      return false;
    }
    build_response_headers(base);
  }
  const bool end_stream = !has_body;
  if (end_stream) {
    state = State::kHead;
  } else if (head.chunked) {
    state = State::kChunkSize;
  } else if (head.has_content_length) {
    state = State::kBodyLength;
    remaining = head.content_length;
  } else {
    state = State::kBodyToEof;
  }
  start_section();
  visitor.on_headers(headers, head, end_stream);
  if (end_stream) {
    complete_message();
  }
  return true;
}

// Transfer-Encoding, Content-Length and Connection, common to requests and responses.
bool Http1Parser::Impl::analyse_framing(const char* base) {
  size_t te_count = 0;
  size_t cl_count = 0;
  bool framing_tab = false;
  std::string_view te_value;
  std::string_view cl_value;
  bool close = false;
  bool keep_alive_token = false;
  bool upgrade_token = false;
  bool upgrade_field = false;
  for (size_t i = 0; i < field_count; ++i) {
    const FieldRef& f = fields[i];
    if (f.kind == FieldKind::kOther || f.kind == FieldKind::kHost) {
      continue;
    }
    const std::string_view value(base + f.value, f.value_size);
    switch (f.kind) {
      case FieldKind::kTransferEncoding:
        ++te_count;
        te_value = value;
        framing_tab = framing_tab || f.tab_in_value;
        break;
      case FieldKind::kContentLength:
        ++cl_count;
        cl_value = value;
        framing_tab = framing_tab || f.tab_in_value;
        break;
      case FieldKind::kConnection:
        for_each_element(value, [&](std::string_view token) {
          close = close || ascii_iequals(token, "close");
          keep_alive_token = keep_alive_token || ascii_iequals(token, "keep-alive");
          upgrade_token = upgrade_token || ascii_iequals(token, "upgrade");
        });
        break;
      case FieldKind::kUpgrade:
        upgrade_field = upgrade_field || !value.empty();
        break;
      case FieldKind::kExpect:
        head.expect_continue = ascii_iequals(value, "100-continue");
        break;
      default:
        break;
    }
  }
  // Two framings, or one given twice, let peers disagree about where the message ends.
  if (te_count > 1) {
    return fail(400, "multiple transfer-encoding fields");
  }
  if (cl_count > 1) {
    return fail(400, "multiple content-length fields");
  }
  if (te_count > 0 && cl_count > 0) {
    return fail(400, "both content-length and transfer-encoding");
  }
  // nginx does not trim HTAB around a value, so "\tchunked" is not chunked to it: refuse
  // what peers would read differently.
  if (framing_tab) {
    return fail(400, "HTAB in a framing field");
  }
  if (te_count > 0) {
    switch (classify_transfer_encoding(te_value)) {
      case Coding::kChunked:
        head.chunked = true;
        break;
      case Coding::kMalformed:
        return fail(400, "malformed transfer-encoding");
      case Coding::kChunkedNotFinal:
        return fail(400, "transfer-encoding does not end in chunked");
      case Coding::kUnsupported:
        return fail(501, "transfer-coding not implemented");
    }
  }
  if (cl_count > 0) {
    switch (parse_content_length(cl_value, limits.max_content_length, head.content_length)) {
      case Length::kValid:
        head.has_content_length = true;
        break;
      case Length::kMalformed:
        return fail(400, "malformed content-length");
      case Length::kTooLarge:
        return fail(413, "content-length too large");
    }
  }
  head.keep_alive = head.http_minor >= 1 ? !close : keep_alive_token && !close;
  // HTTP/1.0 has no chunked framing: process the message, then close (RFC 9112 §6.1).
  if (head.chunked && head.http_minor == 0) {
    head.keep_alive = false;
  }
  head.upgrade = upgrade_field && upgrade_token;
  return true;
}

bool Http1Parser::Impl::finish_request_head(const char* base, bool& has_body) {
  const std::string_view method_text(base + method, method_size);
  const std::string_view target_text(base + target, target_size);
  const bool connect = method_text == "CONNECT";
  size_t host_count = 0;
  std::string_view host;
  for (size_t i = 0; i < field_count; ++i) {
    if (fields[i].kind == FieldKind::kHost) {
      ++host_count;
      host = std::string_view(base + fields[i].value, fields[i].value_size);
    }
  }
  if (host_count > 1) {
    return fail(400, "multiple host fields");
  }
  if (host_count == 0 && head.http_minor >= 1) {
    return fail(400, "HTTP/1.1 request without host");
  }
  if (host_count == 1 && !valid_authority(host, false)) {
    return fail(400, "invalid host");
  }
  // The request-target forms of RFC 9112 §3.2.
  if (connect) {
    if (!valid_authority(target_text, true)) {
      return fail(400, "CONNECT target is not host:port");
    }
  } else if (target_text[0] == '/') {
    // origin-form
  } else if (target_text == "*") {
    if (method_text != "OPTIONS") {
      return fail(400, "asterisk-form target without OPTIONS");
    }
  } else {
    // absolute-form: scheme "://" authority path-abempty [ "?" query ]
    const size_t colon = target_text.find("://");
    const std::string_view scheme = target_text.substr(0, colon);
    if (colon == std::string_view::npos ||
        !(ascii_iequals(scheme, "http") || ascii_iequals(scheme, "https"))) {
      return fail(400, "invalid request target");
    }
    const std::string_view rest = target_text.substr(colon + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos) {
      return fail(400, "userinfo in request target");
    }
    if (!valid_authority(authority, false)) {
      return fail(400, "invalid authority in request target");
    }
  }
  if (connect && (head.chunked || head.content_length > 0)) {
    return fail(400, "CONNECT with a body");
  }
  head.expect_continue = head.expect_continue && head.http_minor >= 1;
  head.upgrade = head.upgrade || connect;
  // (What follows a CONNECT is the tunnel.)
  has_body = !connect && (head.chunked || head.content_length > 0);
  return true;
}

bool Http1Parser::Impl::finish_response_head(bool& has_body, bool& skip_body) {
  head.expect_continue = false;
  informational = status < 200;
  // These never have a body, whatever their fields say.
  skip_body = informational || status == 204 || status == 304;
  if (!informational) {
    skip_body = skip_body || owner.expect_no_body_;
    owner.expect_no_body_ = false;
  }
  head.upgrade = status == 101;
  if (skip_body) {
    has_body = false;
    return true;
  }
  if (head.chunked) {
    has_body = true;
  } else if (head.has_content_length) {
    has_body = head.content_length > 0;
  } else {
    // No framing: the body runs to connection close.
    has_body = true;
    head.keep_alive = false;
  }
  return true;
}

void Http1Parser::Impl::add_fields(const char* base, bool skip_host) {
  for (size_t i = 0; i < field_count; ++i) {
    const FieldRef& f = fields[i];
    // Host became :authority rather than staying a field too (as in Envoy), so there is one
    // place to read or rewrite it.
    if (skip_host && f.kind == FieldKind::kHost) {
      continue;
    }
    headers.add(std::string_view(base + f.name, f.name_size),
                std::string_view(base + f.value, f.value_size));
  }
}

void Http1Parser::Impl::build_request_headers(const char* base) {
  const std::string_view method_text(base + method, method_size);
  std::string_view path(base + target, target_size);
  std::string_view authority;
  std::string_view scheme = "http";
  bool has_authority = false;
  for (size_t i = 0; i < field_count; ++i) {
    if (fields[i].kind == FieldKind::kHost) {
      authority = std::string_view(base + fields[i].value, fields[i].value_size);
      has_authority = true;
    }
  }
  std::string absolute_path;
  if (method_text == "CONNECT") {
    authority = path;
    has_authority = true;
  } else if (path[0] != '/' && path != "*") {
    const size_t colon = path.find("://");
    scheme = ascii_iequals(path.substr(0, colon), "https") ? "https" : "http";
    std::string_view rest = path.substr(colon + 3);
    const size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
    authority = rest.substr(0, authority_end);
    has_authority = true;
    rest.remove_prefix(authority_end);
    if (rest.empty() || rest[0] != '/') {
      absolute_path.reserve(rest.size() + 1);
      absolute_path.push_back('/');
      absolute_path.append(rest);
      rest = absolute_path;
    }
    path = rest;
  }
  headers.clear();
  headers.reserve(field_count + 4 + kRoomForAddedFields);
  headers.add_lower_case(":method", method_text);
  headers.add_lower_case(":path", path);
  if (has_authority) {
    headers.add_lower_case(":authority", authority);
  }
  headers.add_lower_case(":scheme", scheme);
  add_fields(base, true);
}

void Http1Parser::Impl::build_response_headers(const char* base) {
  const char digits[3] = {static_cast<char>('0' + status / 100),
                          static_cast<char>('0' + status / 10 % 10),
                          static_cast<char>('0' + status % 10)};
  headers.clear();
  headers.reserve(field_count + 1 + kRoomForAddedFields);
  headers.add_lower_case(":status", std::string_view(digits, 3));
  add_fields(base, false);
}

void Http1Parser::Impl::finish_trailers(const char* base) {
  headers.clear();
  for (size_t i = 0; i < field_count; ++i) {
    const FieldRef& f = fields[i];
    const std::string_view name(base + f.name, f.name_size);
    if (!forbidden_in_trailers(name)) {
      headers.add(name, std::string_view(base + f.value, f.value_size));
    }
  }
  start_section();
  if (headers.empty()) {
    visitor.on_body({}, true);
  } else {
    visitor.on_trailers(headers);
  }
  complete_message();
}

// The next complete chunk-size line, without its line ending. Buffers a partial one.
bool Http1Parser::Impl::take_chunk_line(const char*& p, const char* end, std::string_view& line) {
  const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  if (buffer.empty() && lf != nullptr) {
    line = std::string_view(p, static_cast<size_t>(lf - p));
    p = lf + 1;
  } else {
    const size_t take = lf ? static_cast<size_t>(lf - p) + 1 : static_cast<size_t>(end - p);
    if (buffer.size() + take > kMaxChunkLineBytes + 2) {
      return fail(400, "chunk line too long");
    }
    buffer.append(p, take);
    p += take;
    if (lf == nullptr) {
      return false;
    }
    line = std::string_view(buffer.data(), buffer.size() - 1);
  }
  size_t size = line.size();
  if (!line_content(line.data(), size)) {
    return false;
  }
  line = line.substr(0, size);
  if (line.size() > kMaxChunkLineBytes) {
    return fail(400, "chunk line too long");
  }
  return true;
}

// chunk-size [ chunk-ext ]: plain hex, no sign, prefix or whitespace before it.
bool Http1Parser::Impl::parse_chunk_line(std::string_view line) {
  size_t i = 0;
  uint64_t size = 0;
  while (i < line.size() && is(line[i], kHexChar)) {
    if (size >> 60 != 0) {
      return fail(400, "chunk size overflows");
    }
    const char c = line[i];
    const uint64_t digit =
        is_digit(c) ? static_cast<uint64_t>(c - '0') : static_cast<uint64_t>((c | 0x20) - 'a' + 10);
    size = size << 4 | digit;
    ++i;
  }
  if (i == 0) {
    return fail(400, "invalid chunk size");
  }
  if (size > limits.max_content_length) {
    return fail(413, "chunk size too large");
  }
  if (!valid_chunk_extensions(line.substr(i))) {
    return fail(400, "invalid chunk extension");
  }
  buffer.clear();
  if (size == 0) {
    // The last chunk: any fields that follow are trailers, with limits of their own.
    state = State::kTrailers;
    start_section();
  } else {
    state = State::kChunkData;
    remaining = size;
  }
  return true;
}

void Http1Parser::Impl::complete_message() {
  visitor.on_message_complete();
  if (head.upgrade) {
    // What follows may be another protocol: always stop, and let the owner decide.
    paused = true;
  } else if (!head.keep_alive && !informational) {
    // Anything after a message that ends the connection is not to be acted on.
    discarding = true;
    paused = owner.pause_after_message_;
  } else {
    paused = owner.pause_after_message_;
  }
  start_message();
}

// Parses [begin, end); returns the bytes consumed (all of them unless paused or failed).
size_t Http1Parser::Impl::run(const char* begin, const char* end) {
  const char* p = begin;
  while (p < end && !owner.has_error_ && !paused && !discarding) {
    switch (state) {
      case State::kHead:
      case State::kTrailers:
        parse_section(p, end);
        break;
      case State::kBodyLength: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, end - p));
        remaining -= n;
        const bool last = remaining == 0;
        const std::string_view data(p, n);
        p += n;
        visitor.on_body(data, last);
        if (last) {
          complete_message();
        }
        break;
      }
      case State::kChunkSize: {
        std::string_view line;
        if (take_chunk_line(p, end, line)) {
          parse_chunk_line(line);
        }
        break;
      }
      case State::kChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, end - p));
        remaining -= n;
        const std::string_view data(p, n);
        p += n;
        if (remaining == 0) {
          state = State::kChunkDataCr;
        }
        visitor.on_body(data, false);
        break;
      }
      case State::kChunkDataCr:
        if (*p == '\r') {
          state = State::kChunkDataLf;
        } else if (*p == '\n' && bare_lf_ends_lines) {
          state = State::kChunkSize;
        } else {
          fail(400, "chunk data not followed by CRLF");
        }
        ++p;
        break;
      case State::kChunkDataLf:
        if (*p != '\n') {
          fail(400, "chunk data not followed by CRLF");
        }
        state = State::kChunkSize;
        ++p;
        break;
      case State::kBodyToEof: {
        const std::string_view data(p, static_cast<size_t>(end - p));
        p = end;
        visitor.on_body(data, false);
        break;
      }
    }
  }
  return static_cast<size_t>(p - begin);
}

Http1Parser::Http1Parser(MessageType type, Http1Visitor& visitor, ParserLimits limits)
    : impl_(std::make_unique<Impl>(*this, type, visitor, limits)) {}

Http1Parser::~Http1Parser() = default;

void Http1Parser::reset(Http1Visitor& visitor) {
  assert(!impl_->executing && "Http1Parser::reset called from a visitor callback");
  const MessageType type = impl_->type;
  const ParserLimits limits = impl_->limits;
  std::vector<Impl::FieldRef> fields = std::move(impl_->fields);
  std::string buffer = std::move(impl_->buffer);
  // A fresh Impl in the same storage, keeping only the capacity of its two buffers.
  impl_->~Impl();
  new (impl_.get()) Impl(*this, type, visitor, limits, std::move(fields), std::move(buffer));
  pause_after_message_ = false;
  expect_no_body_ = false;
  has_error_ = false;
  error_ = ParseError{};
}

size_t Http1Parser::feed(std::string_view data) {
  // Re-entry from a callback would corrupt the parser's state.
  assert(!impl_->executing && "Http1Parser::feed called from a visitor callback");
  if (has_error_ || impl_->executing || impl_->paused || data.empty()) {
    return 0;
  }
  if (impl_->discarding || impl_->eof) {
    return data.size();
  }
  impl_->executing = true;
  size_t consumed = 0;
  try {
    consumed = impl_->run(data.data(), data.data() + data.size());
  } catch (...) {
    impl_->executing = false;
    impl_->fail(400, "internal error in message handler");
    throw;
  }
  impl_->executing = false;
  // A connection-ending message completed: the rest of this buffer is dropped too.
  if (impl_->discarding && !impl_->paused && !has_error_) {
    return data.size();
  }
  return consumed;
}

void Http1Parser::feed_eof() {
  assert(!impl_->executing && "Http1Parser::feed_eof called from a visitor callback");
  // While paused, bytes may still be waiting to be fed, so this EOF is not the end yet.
  // After a connection-ending message there is nothing left to complete.
  if (has_error_ || impl_->executing || impl_->eof || impl_->paused || impl_->discarding) {
    return;
  }
  impl_->eof = true;
  using State = Impl::State;
  if (impl_->state == State::kBodyToEof) {
    impl_->executing = true;
    try {
      impl_->visitor.on_body({}, true);
      impl_->complete_message();
    } catch (...) {
      impl_->executing = false;
      impl_->fail(400, "internal error in message handler");
      throw;
    }
    impl_->executing = false;
    return;
  }
  if (impl_->state != State::kHead || !impl_->buffer.empty() || impl_->start_line_done) {
    impl_->fail(400, "connection closed before the end of the message");
  }
}

bool Http1Parser::paused() const { return impl_->paused; }

void Http1Parser::resume() { impl_->paused = false; }

}  // namespace weir::http
