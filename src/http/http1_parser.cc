#include "http/http1_parser.h"

#include <http_parser.h>

#include <array>
#include <cassert>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

namespace weir::http {
namespace {

constexpr std::string_view kHeaderTooLarge = "header section too large";
constexpr std::string_view kTooManyHeaders = "too many header fields";

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_ows(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// RFC 9110 tchar, lower-cased; 0 for anything else. Debian builds http-parser in
// non-strict mode, which lets a space into field names: "Transfer-Encoding : chunked" would
// then be forwarded as a field that the next hop may read as framing while we did not, so
// names are checked here.
constexpr std::array<char, 256> kLowerTchar = [] {
  std::array<char, 256> table{};
  for (int c = '0'; c <= '9'; ++c) {
    table[c] = static_cast<char>(c);
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    table[c] = static_cast<char>(c);
  }
  for (int c = 'A'; c <= 'Z'; ++c) {
    table[c] = static_cast<char>(c - 'A' + 'a');
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    table[static_cast<unsigned char>(c)] = c;
  }
  return table;
}();

// Appends a piece of a field name, lower-cased. False if it holds a non-token byte.
bool append_field_name(std::string& out, const char* data, size_t size) {
  const size_t old_size = out.size();
  out.append(data, size);
  char* name = out.data() + old_size;
  bool valid = true;
  for (size_t i = 0; i < size; ++i) {
    const char lower = kLowerTchar[static_cast<unsigned char>(name[i])];
    valid &= lower != 0;
    name[i] = lower;
  }
  return valid;
}

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

// True if no byte is below kLimit or DEL, HTAB excepted when kAllowTab.
template <uint8_t kLimit, bool kAllowTab>
bool no_control_bytes(const char* data, size_t size) {
  const auto allowed = [](unsigned char c) {
    return (c >= kLimit && c != 0x7f) || (kAllowTab && c == '\t');
  };
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, sizeof(word));
    if (!word_may_have_control(word, kLimit)) {
      continue;
    }
    for (size_t j = i; j < i + 8; ++j) {
      if (!allowed(static_cast<unsigned char>(data[j]))) {
        return false;
      }
    }
  }
  for (; i < size; ++i) {
    if (!allowed(static_cast<unsigned char>(data[i]))) {
      return false;
    }
  }
  return true;
}

// Field values may hold HTAB, SP, visible ASCII and obs-text. http-parser does not check
// the first byte of a value, which lets NUL or other controls through.
bool valid_value_piece(const char* data, size_t size) {
  return no_control_bytes<0x20, true>(data, size);
}

// Non-strict http-parser also admits tab, form feed and DEL in the request target; some
// servers split the request line on them, so they are refused. Bytes >= 0x80 are allowed
// (raw UTF-8 from lax clients) since nobody reads them as separators.
bool valid_target_piece(const char* data, size_t size) {
  return no_control_bytes<0x21, false>(data, size);
}

// Connection semantics alone, ignoring framing: what http_should_keep_alive() answers for a
// message that is known to have no body.
bool connection_persists(const http_parser& p) {
  if (p.http_major > 0 && p.http_minor > 0) {
    return !(p.flags & F_CONNECTION_CLOSE);
  }
  return (p.flags & F_CONNECTION_KEEP_ALIVE) != 0;
}

ParseError error_from_errno(http_errno err) {
  if (err == HPE_HEADER_OVERFLOW) {
    return {431, std::string(kHeaderTooLarge)};
  }
  if (err == HPE_UNEXPECTED_CONTENT_LENGTH) {
    return {400, "duplicate content-length, or content-length with transfer-encoding"};
  }
  return {400, http_errno_description(err)};
}

}  // namespace

struct Http1Parser::Impl {
  // One header field under construction. Kept across messages so that, once warmed up,
  // parsing headers allocates nothing but the HeaderMap handed to the visitor.
  struct Field {
    std::string name;
    std::string value;
  };
  enum class LastPart { kNone, kField, kValue };

  Impl(Http1Parser& owner, MessageType type, Http1Visitor& visitor, ParserLimits limits)
      : owner(owner), type(type), visitor(visitor), limits(limits) {
    http_parser_init(&parser, type == MessageType::Request ? HTTP_REQUEST : HTTP_RESPONSE);
    parser.data = this;
  }

  static Impl& from(http_parser* p) { return *static_cast<Impl*>(p->data); }

  // Trampolines from C. An exception from the visitor must not unwind through http_parser:
  // it is caught here and rethrown by execute().
  template <int (Impl::*Method)()>
  static int notify(http_parser* p) {
    Impl& impl = from(p);
    try {
      return (impl.*Method)();
    } catch (...) {
      impl.visitor_exception = std::current_exception();
      return -1;
    }
  }
  template <int (Impl::*Method)(const char*, size_t)>
  static int data(http_parser* p, const char* at, size_t size) {
    Impl& impl = from(p);
    try {
      return (impl.*Method)(at, size);
    } catch (...) {
      impl.visitor_exception = std::current_exception();
      return -1;
    }
  }
  static const http_parser_settings& settings();

  // Callbacks from http_parser. Nonzero stops it; `fail` has then recorded why.
  int on_message_begin();
  int on_url(const char* at, size_t size);
  int on_header_field(const char* at, size_t size);
  int on_header_value(const char* at, size_t size);
  int on_headers_complete();
  int on_body(const char* at, size_t size);
  int on_chunk_header();
  int on_message_complete();

  int fail(int http_status, std::string_view reason);
  bool check_chunk_terminator(const char* at, const char* end);
  bool count_header_bytes(size_t size);
  void build_headers();
  void build_trailers();

  // Runs http_parser over `data` (empty at EOF) and records how it stopped.
  size_t execute(const char* data, size_t size);
  void after_execute();

  Http1Parser& owner;
  const MessageType type;
  Http1Visitor& visitor;
  const ParserLimits limits;
  http_parser parser;

  // Scratch, reused across messages.
  std::string target;  // request target as sent
  std::vector<Field> fields;
  size_t field_count = 0;
  LastPart last_part = LastPart::kNone;
  size_t header_bytes = 0;
  HeaderMap headers;

  // Per message.
  MessageHead head;
  bool in_trailers = false;
  bool end_stream_sent = false;
  bool informational = false;  // 1xx response

  // The CRLF that must follow a chunk's data: how much of it is still to be seen. Checked
  // here because non-strict http-parser takes any two bytes in its place.
  size_t chunk_crlf_pending = 0;
  const char* feed_end = nullptr;  // end of the buffer being executed

  bool paused = false;      // stopped after a message; resume() continues
  bool discarding = false;  // a message ended the connection; later bytes are dropped
  bool eof = false;
  bool executing = false;
  std::exception_ptr visitor_exception;
};

const http_parser_settings& Http1Parser::Impl::settings() {
  static const http_parser_settings kSettings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = notify<&Impl::on_message_begin>;
    s.on_url = data<&Impl::on_url>;
    // The status text is ignored: the writer derives the reason phrase from the code.
    s.on_header_field = data<&Impl::on_header_field>;
    s.on_header_value = data<&Impl::on_header_value>;
    s.on_headers_complete = notify<&Impl::on_headers_complete>;
    s.on_body = data<&Impl::on_body>;
    s.on_chunk_header = notify<&Impl::on_chunk_header>;
    s.on_message_complete = notify<&Impl::on_message_complete>;
    return s;
  }();
  return kSettings;
}

int Http1Parser::Impl::fail(int http_status, std::string_view reason) {
  owner.has_error_ = true;
  owner.error_.http_status = http_status;
  owner.error_.reason.assign(reason);
  return -1;
}

bool Http1Parser::Impl::count_header_bytes(size_t size) {
  header_bytes += size;
  return header_bytes <= limits.max_header_bytes;
}

int Http1Parser::Impl::on_message_begin() {
  target.clear();
  field_count = 0;
  last_part = LastPart::kNone;
  header_bytes = 0;
  head = MessageHead{};
  in_trailers = false;
  end_stream_sent = false;
  informational = false;
  return 0;
}

int Http1Parser::Impl::on_url(const char* at, size_t size) {
  if (!count_header_bytes(size)) {
    return fail(431, kHeaderTooLarge);
  }
  if (!valid_target_piece(at, size)) {
    return fail(400, "invalid character in request target");
  }
  target.append(at, size);
  return 0;
}

int Http1Parser::Impl::on_header_field(const char* at, size_t size) {
  if (!count_header_bytes(size)) {
    return fail(431, kHeaderTooLarge);
  }
  // http_parser may split a name over several calls; a new field starts after a value.
  if (last_part != LastPart::kField) {
    if (field_count >= limits.max_headers) {
      return fail(431, kTooManyHeaders);
    }
    if (field_count == fields.size()) {
      fields.emplace_back();
    }
    Field& field = fields[field_count++];
    field.name.clear();
    field.value.clear();
    last_part = LastPart::kField;
  }
  if (!append_field_name(fields[field_count - 1].name, at, size)) {
    return fail(400, "invalid character in header name");
  }
  return 0;
}

int Http1Parser::Impl::on_header_value(const char* at, size_t size) {
  if (!count_header_bytes(size)) {
    return fail(431, kHeaderTooLarge);
  }
  if (!valid_value_piece(at, size)) {
    return fail(400, "invalid character in header value");
  }
  // Pieces of one value (split reads, or obs-fold continuation lines, which http_parser
  // delivers without the CRLF but with their leading whitespace) are simply joined.
  fields[field_count - 1].value.append(at, size);
  last_part = LastPart::kValue;
  return 0;
}

void Http1Parser::Impl::build_headers() {
  headers.clear();
  if (type == MessageType::Request) {
    headers.add(":method", http_method_str(static_cast<http_method>(parser.method)));
    headers.add(":path", target);
    for (size_t i = 0; i < field_count; ++i) {
      // Host becomes :authority rather than staying a field too (as in Envoy), so there is
      // one place to read or rewrite it.
      if (fields[i].name == "host") {
        headers.add(":authority", trim_ows(fields[i].value));
      }
    }
    headers.add(":scheme", "http");
  } else {
    headers.add(":status", std::to_string(parser.status_code));
  }
  for (size_t i = 0; i < field_count; ++i) {
    const Field& field = fields[i];
    if (type == MessageType::Request && field.name == "host") {
      continue;
    }
    headers.add(field.name, trim_ows(field.value));
  }
}

void Http1Parser::Impl::build_trailers() {
  headers.clear();
  for (size_t i = 0; i < field_count; ++i) {
    headers.add(fields[i].name, trim_ows(fields[i].value));
  }
}

int Http1Parser::Impl::on_headers_complete() {
  if (parser.http_major != 1) {
    return fail(400, "unsupported HTTP version");
  }

  // Framing checks http_parser leaves to us, done before the visitor sees anything.
  size_t host_count = 0;
  bool has_transfer_encoding = false;
  bool has_content_length = false;
  for (size_t i = 0; i < field_count; ++i) {
    const Field& field = fields[i];
    if (field.name == "host") {
      ++host_count;
    } else if (field.name == "transfer-encoding") {
      has_transfer_encoding = true;
    } else if (field.name == "content-length") {
      has_content_length = true;
    } else if (field.name == "expect") {
      head.expect_continue = iequals(trim_ows(field.value), "100-continue");
    }
  }
  // http_parser also takes any name that starts with "transfer-encoding" for one; follow
  // its view, since that is how it will frame the body.
  has_transfer_encoding = has_transfer_encoding || parser.uses_transfer_encoding;
  // Two framings, or two hosts, let peers disagree about the message: request smuggling.
  if (has_transfer_encoding && has_content_length) {
    return fail(400, "both content-length and transfer-encoding");
  }
  const bool chunked = (parser.flags & F_CHUNKED) != 0;
  bool skip_body = false;
  if (type == MessageType::Request) {
    if (host_count > 1) {
      return fail(400, "multiple host fields");
    }
    // http_parser reports this only after the headers callback; check it first.
    if (has_transfer_encoding && !chunked) {
      return fail(400, "transfer-encoding of a request does not end in chunked");
    }
    head.expect_continue = head.expect_continue && parser.http_minor >= 1;
  } else {
    head.expect_continue = false;
    const unsigned status = parser.status_code;
    if (status < 100) {
      return fail(400, "invalid HTTP status code");
    }
    informational = status < 200;
    // These never have a body, whatever their fields say (http_parser would read one for a
    // 1xx or 204 carrying content-length).
    skip_body = informational || status == 204 || status == 304;
    if (!informational) {
      skip_body = skip_body || owner.expect_no_body_;
      owner.expect_no_body_ = false;
    }
  }

  head.http_major = parser.http_major;
  head.http_minor = parser.http_minor;
  head.chunked = chunked;
  head.has_content_length = (parser.flags & F_CONTENTLENGTH) != 0;
  head.content_length = head.has_content_length ? parser.content_length : 0;
  head.upgrade = parser.upgrade != 0;
  head.keep_alive = skip_body ? connection_persists(parser) : http_should_keep_alive(&parser) != 0;

  bool end_stream;
  if (skip_body || (type == MessageType::Request && parser.method == HTTP_CONNECT)) {
    // (http_parser never reads a body for CONNECT: what follows is the tunnel.)
    end_stream = true;
  } else if (chunked) {
    end_stream = false;
  } else if (head.has_content_length) {
    end_stream = head.content_length == 0;
  } else {
    // No framing: a request has no body; a response runs to connection close (even with a
    // transfer-encoding other than chunked).
    end_stream = type == MessageType::Request;
  }

  build_headers();
  last_part = LastPart::kNone;
  end_stream_sent = end_stream;
  visitor.on_headers(headers, head, end_stream);
  // Returning 1 tells http_parser the response has no body.
  return skip_body ? 1 : 0;
}

int Http1Parser::Impl::on_body(const char* at, size_t size) {
  // With content-length, http_parser has already deducted this piece, so zero left means
  // it is the last. Chunked and close-delimited bodies learn their end later.
  const bool end_stream = !head.chunked && head.has_content_length && parser.content_length == 0;
  end_stream_sent = end_stream;
  // http_parser reports an empty piece when a buffer starts just before a chunk's CRLF.
  if (size > 0 || end_stream) {
    visitor.on_body(std::string_view(at, size), end_stream);
  }
  // The visitor has the data either way, so that where the buffer happens to end does not
  // change what it sees before an error.
  if (head.chunked && parser.content_length == 0) {
    chunk_crlf_pending = 2;
    if (!check_chunk_terminator(at + size, feed_end)) {
      return fail(400, "chunk data not followed by CRLF");
    }
  }
  return 0;
}

bool Http1Parser::Impl::check_chunk_terminator(const char* at, const char* end) {
  while (chunk_crlf_pending > 0 && at < end) {
    const char expected = chunk_crlf_pending == 2 ? '\r' : '\n';
    if (*at++ != expected) {
      return false;
    }
    --chunk_crlf_pending;
  }
  return true;
}

int Http1Parser::Impl::on_chunk_header() {
  if (parser.content_length == 0) {
    // The last chunk: any fields that follow are trailers, with limits of their own.
    in_trailers = true;
    field_count = 0;
    header_bytes = 0;
    last_part = LastPart::kNone;
  }
  return 0;
}

int Http1Parser::Impl::on_message_complete() {
  if (!end_stream_sent) {
    end_stream_sent = true;
    if (in_trailers && field_count > 0) {
      build_trailers();
      visitor.on_trailers(headers);
    } else {
      visitor.on_body({}, true);
    }
  }
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
  // http_parser_pause makes http_parser_execute return right after this message.
  if (paused || discarding) {
    http_parser_pause(&parser, 1);
  }
  return 0;
}

size_t Http1Parser::Impl::execute(const char* data, size_t size) {
  // The rest of a chunk terminator that the previous buffer cut off.
  if (chunk_crlf_pending > 0 && !check_chunk_terminator(data, data + size)) {
    fail(400, "chunk data not followed by CRLF");
    return 0;
  }
  feed_end = data + size;
  executing = true;
  const size_t consumed = http_parser_execute(&parser, &settings(), data, size);
  executing = false;
  after_execute();
  return consumed;
}

void Http1Parser::Impl::after_execute() {
  if (visitor_exception) {
    fail(400, "internal error in message handler");
    std::rethrow_exception(std::exchange(visitor_exception, nullptr));
  }
  const http_errno err = HTTP_PARSER_ERRNO(&parser);
  if (err == HPE_OK || err == HPE_PAUSED || owner.has_error_) {
    return;
  }
  owner.has_error_ = true;
  owner.error_ = error_from_errno(err);
}

Http1Parser::Http1Parser(MessageType type, Http1Visitor& visitor, ParserLimits limits)
    : impl_(std::make_unique<Impl>(*this, type, visitor, limits)) {}

Http1Parser::~Http1Parser() = default;

size_t Http1Parser::feed(std::string_view data) {
  // Re-entry from a callback would corrupt http_parser's state.
  assert(!impl_->executing && "Http1Parser::feed called from a visitor callback");
  // An empty buffer would mean EOF to http_parser.
  if (has_error_ || impl_->executing || impl_->paused || data.empty()) {
    return 0;
  }
  if (impl_->discarding || impl_->eof) {
    return data.size();
  }
  const size_t consumed = impl_->execute(data.data(), data.size());
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
  // A zero-length execute tells http_parser the stream ended: it completes a body that runs
  // to close, and reports a message cut short as an error.
  impl_->execute(nullptr, 0);
}

bool Http1Parser::paused() const { return impl_->paused; }

void Http1Parser::resume() {
  if (!impl_->paused) {
    return;
  }
  impl_->paused = false;
  if (!impl_->discarding) {
    http_parser_pause(&impl_->parser, 0);
  }
}

}  // namespace weir::http
