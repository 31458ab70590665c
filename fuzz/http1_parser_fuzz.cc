// Feeds arbitrary bytes to the HTTP/1 request or response parser, once whole and once in
// random pieces, with a visitor that checks the callback contract. Both runs must report
// the same thing. Every message that parses must survive a round trip: written again by
// http1_writer (head, body with the framing the parser reported, trailers) and parsed by a
// fresh parser, it must come out the same.
//
// Input layout: byte 0 holds option bits, bytes 1-4 seed the split points and per-message
// choices, the rest is the HTTP stream. Built twice: weir_http1_parser_fuzz (bit 0 of byte 0
// chooses requests or responses) and weir_http1_response_fuzz (WEIR_FUZZ_RESPONSES: always
// responses, so that all its mutations go to the response side).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/http1_parser.h"
#include "http/http1_writer.h"

namespace weir::http {
namespace {

enum Option : uint8_t {
  kResponse = 1 << 0,
  kPauseAfterEachMessage = 1 << 1,
  kSmallLimits = 1 << 2,
  kExpectNoBodySometimes = 1 << 3,
  kFeedEof = 1 << 4,
  kMoveHeaders = 1 << 5,
};

// Small deterministic generator, so both runs make the same per-message choices.
struct Rng {
  uint32_t state;
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

bool is_tchar_lower(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_forbidden_trailer(std::string_view name) {
  for (std::string_view forbidden : {"content-length", "transfer-encoding", "host", "trailer",
                                     "connection", "te", "authorization", "upgrade"}) {
    if (name == forbidden) {
      return true;
    }
  }
  return false;
}

void check_fields(const HeaderMap& map, bool allow_pseudo) {
  bool pseudo_allowed = allow_pseudo;
  for (const auto& [name, value] : map.entries()) {
    FUZZ_CHECK(!name.empty());
    if (name.front() == ':') {
      FUZZ_CHECK(pseudo_allowed);  // pseudo headers come first
    } else {
      pseudo_allowed = false;
      for (char c : name) {
        FUZZ_CHECK(is_tchar_lower(c));
      }
    }
    for (char c : value) {
      FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
    }
    if (!value.empty()) {
      FUZZ_CHECK(value.front() != ' ' && value.front() != '\t');
      FUZZ_CHECK(value.back() != ' ' && value.back() != '\t');
    }
  }
}

// One message as the visitor saw it.
struct Seen {
  HeaderMap headers;
  MessageHead head;
  std::string body;
  HeaderMap trailers;
  bool has_trailers = false;
  bool complete = false;
};

// Collects the first message of a stream.
struct MessageCapture : Http1Visitor {
  Seen seen;
  bool got = false;
  void on_headers(HeaderMap& h, const MessageHead& head, bool) override {
    if (!got) {
      seen.headers = h;
      seen.head = head;
    }
    got = true;
  }
  void on_body(std::string_view data, bool) override {
    if (!seen.complete) {
      seen.body.append(data);
    }
  }
  void on_trailers(HeaderMap& t) override {
    if (!seen.complete) {
      seen.trailers = t;
      seen.has_trailers = true;
    }
  }
  void on_message_complete() override { seen.complete = true; }
};

// The writer has no :scheme (HTTP/1 has none on the wire): compare without it.
std::vector<HeaderMap::Entry> without_scheme(const HeaderMap& map) {
  std::vector<HeaderMap::Entry> out;
  for (const auto& entry : map.entries()) {
    if (entry.first != ":scheme") {
      out.push_back(entry);
    }
  }
  return out;
}

// Writes `message` with http1_writer and parses it again with a fresh parser: the same
// fields, body and trailers must come out. `expect_no_body` is what the original response
// was parsed with; `has_body` whether the message could have one (not a 1xx, 204, 304 or
// response to HEAD).
void check_round_trip(MessageType type, const Seen& message, bool expect_no_body, bool has_body,
                      bool to_eof) {
  const HeaderMap& headers = message.headers;
  // HTTP/1.1 (what the writer writes) needs a Host; an HTTP/1.0 request without one cannot
  // be written as it came.
  if (type == MessageType::Request && !headers.get(":authority")) {
    return;
  }
  std::string wire;
  if (type == MessageType::Request) {
    write_request_head(headers, wire);
  } else {
    write_response_head(headers, wire);
  }
  if (message.head.chunked && has_body) {
    write_chunk(message.body, wire);
    write_last_chunk(message.has_trailers ? &message.trailers : nullptr, wire);
  } else {
    wire += message.body;
  }
  MessageCapture capture;
  Http1Parser parser(type, capture);
  parser.expect_no_body(expect_no_body);
  parser.feed(wire);
  if (to_eof) {
    parser.feed_eof();
  }
  if (parser.has_error()) {
    std::fprintf(stderr, "round trip failed: %s\n%s\n", parser.error().reason.c_str(),
                 wire.c_str());
  }
  FUZZ_CHECK(!parser.has_error());
  FUZZ_CHECK(capture.got);
  FUZZ_CHECK(capture.seen.complete);
  FUZZ_CHECK(without_scheme(capture.seen.headers) == without_scheme(headers));
  FUZZ_CHECK(capture.seen.body == message.body);
  FUZZ_CHECK(std::ranges::equal(capture.seen.trailers.entries(), message.trailers.entries()));
  FUZZ_CHECK(capture.seen.head.chunked == message.head.chunked);
  FUZZ_CHECK(capture.seen.head.has_content_length == message.head.has_content_length);
  FUZZ_CHECK(capture.seen.head.content_length == message.head.content_length);
}

class CheckingVisitor : public Http1Visitor {
 public:
  CheckingVisitor(MessageType type, uint8_t options, uint32_t seed, bool check_writer)
      : type_(type), options_(options), rng_{seed | 1}, check_writer_(check_writer) {}

  void attach(Http1Parser* parser) {
    parser_ = parser;
    choose_for_next_message();
  }

  void on_headers(HeaderMap& headers, const MessageHead& head, bool end_stream) override {
    FUZZ_CHECK(!stopped_);
    FUZZ_CHECK(state_ == State::kIdle);
    check_fields(headers, true);
    const auto& entries = headers.entries();
    FUZZ_CHECK(!entries.empty());
    if (type_ == MessageType::Request) {
      FUZZ_CHECK(entries[0].first == ":method");
      FUZZ_CHECK(entries[1].first == ":path");
      FUZZ_CHECK(!headers.get("host"));
      const auto scheme = headers.get(":scheme");
      FUZZ_CHECK(scheme == "http" || scheme == "https");
      // HTTP/1.1 always names its authority.
      FUZZ_CHECK(head.http_minor == 0 || headers.get(":authority"));
      const std::string_view path = *headers.get(":path");
      FUZZ_CHECK(path.front() == '/' || path == "*" || headers.get(":method") == "CONNECT");
    } else {
      FUZZ_CHECK(entries[0].first == ":status");
      FUZZ_CHECK(entries[0].second.size() == 3);
    }
    FUZZ_CHECK(head.http_major == 1);
    FUZZ_CHECK(!(head.chunked && head.has_content_length));
    FUZZ_CHECK(!head.chunked || head.http_minor > 0 || !head.keep_alive);
    head_ = head;
    seen_ = Seen{};
    seen_.headers = headers;
    seen_.head = head;
    no_body_ = no_body_next_;
    body_size_ = 0;
    trace_ += "H";
    for (const auto& [name, value] : entries) {
      trace_ += name + "=" + value + ";";
    }
    trace_ += head.keep_alive ? "k" : "-";
    trace_ += head.upgrade ? "u" : "-";
    trace_ += end_stream ? "E" : "-";
    if (options_ & kMoveHeaders) {
      HeaderMap taken = std::move(headers);
    }
    state_ = end_stream ? State::kEnded : State::kInBody;
  }

  void on_body(std::string_view data, bool end_stream) override {
    FUZZ_CHECK(!stopped_);
    FUZZ_CHECK(state_ == State::kInBody);
    FUZZ_CHECK(!data.empty() || end_stream);
    body_size_ += data.size();
    body_.append(data);
    seen_.body.append(data);
    if (head_.has_content_length && !head_.chunked) {
      FUZZ_CHECK(body_size_ <= head_.content_length);
      FUZZ_CHECK(end_stream == (body_size_ == head_.content_length));
    }
    if (end_stream) {
      state_ = State::kEnded;
    }
  }

  void on_trailers(HeaderMap& trailers) override {
    FUZZ_CHECK(!stopped_);
    FUZZ_CHECK(state_ == State::kInBody);
    FUZZ_CHECK(head_.chunked);
    FUZZ_CHECK(!trailers.empty());
    check_fields(trailers, false);
    for (const auto& [name, value] : trailers.entries()) {
      FUZZ_CHECK(!is_forbidden_trailer(name));
    }
    seen_.trailers = trailers;
    seen_.has_trailers = true;
    trace_ += "T";
    for (const auto& [name, value] : trailers.entries()) {
      trace_ += name + "=" + value + ";";
    }
    state_ = State::kEnded;
  }

  void on_message_complete() override {
    FUZZ_CHECK(!stopped_);
    FUZZ_CHECK(state_ == State::kEnded);
    if (check_writer_) {
      const int status =
          type_ == MessageType::Response ? std::atoi(seen_.headers.get(":status")->data()) : 0;
      // A response without framing is written without framing: it ends at EOF again.
      const bool has_body = type_ == MessageType::Request ||
                            (status >= 200 && status != 204 && status != 304 && !no_body_);
      const bool to_eof =
          type_ == MessageType::Response && has_body && !head_.chunked && !head_.has_content_length;
      check_round_trip(type_, seen_, no_body_ && status >= 200, has_body, to_eof);
    }
    trace_ += "B" + std::to_string(body_.size()) + ":" + body_ + "C";
    body_.clear();
    state_ = State::kIdle;
    ++messages_;
    choose_for_next_message();
  }

  // Called by the driver after an error: nothing may be reported any more.
  void stop() { stopped_ = true; }
  bool idle() const { return state_ == State::kIdle; }

  std::string finish(const Http1Parser& parser) {
    std::string out = trace_ + "|" + body_;
    if (parser.has_error()) {
      // Not the status: a section both malformed and oversized may fail either way,
      // depending on where buffers end (http_parser reports names and values lazily).
      out += "|error";
    }
    return out;
  }

 private:
  enum class State { kIdle, kInBody, kEnded };

  void choose_for_next_message() {
    const uint32_t r = rng_.next();
    if (type_ == MessageType::Response && (options_ & kExpectNoBodySometimes)) {
      parser_->expect_no_body(r & 1);
      // (It lasts past 1xx responses, until a final one.)
      no_body_next_ = (r & 1) != 0;
    }
    // Switching pausing on from inside on_message_complete must work too.
    if (!(options_ & kPauseAfterEachMessage)) {
      parser_->pause_after_message(r & 2);
    }
  }

  const MessageType type_;
  const uint8_t options_;
  Rng rng_;
  const bool check_writer_;
  Http1Parser* parser_ = nullptr;
  Seen seen_;
  bool no_body_ = false;
  bool no_body_next_ = false;
  State state_ = State::kIdle;
  MessageHead head_;
  uint64_t body_size_ = 0;
  std::string body_;
  std::string trace_;
  int messages_ = 0;
  bool stopped_ = false;
};

// Feeds `stream` in pieces of the given sizes (the last piece takes the rest), resuming
// whenever the parser pauses, and returns the trace.
std::string run(MessageType type, uint8_t options, uint32_t seed, std::string_view stream,
                const std::vector<size_t>& piece_sizes, bool check_writer) {
  ParserLimits limits;
  if (options & kSmallLimits) {
    limits.max_header_bytes = 200;
    limits.max_headers = 6;
  }
  CheckingVisitor visitor(type, options, seed, check_writer);
  Http1Parser parser(type, visitor, limits);
  visitor.attach(&parser);
  parser.pause_after_message(options & kPauseAfterEachMessage);

  size_t offset = 0;
  size_t piece = 0;
  while (offset < stream.size() && !parser.has_error()) {
    size_t size = stream.size() - offset;
    if (piece < piece_sizes.size()) {
      size = std::min(size, piece_sizes[piece++]);
    }
    std::string_view chunk = stream.substr(offset, size);
    // Each piece is fed until the parser has taken all of it, as a connection would.
    while (!chunk.empty()) {
      const size_t consumed = parser.feed(chunk);
      FUZZ_CHECK(consumed <= chunk.size());
      if (parser.has_error()) {
        visitor.stop();
        break;
      }
      if (consumed < chunk.size()) {
        FUZZ_CHECK(parser.paused());
      }
      if (parser.paused()) {
        FUZZ_CHECK(visitor.idle());  // paused right after a message, before the next
        FUZZ_CHECK(parser.feed(chunk.substr(consumed)) == 0);
        parser.resume();
      }
      offset += consumed;
      chunk.remove_prefix(consumed);
    }
  }
  if ((options & kFeedEof) && !parser.has_error()) {
    parser.feed_eof();
    if (parser.has_error()) {
      visitor.stop();
    }
    // After EOF a message is either finished or reported as cut short.
    if (!parser.has_error()) {
      FUZZ_CHECK(visitor.idle());
    }
  }
  if (parser.has_error()) {
    const int status = parser.error().http_status;
    if (type == MessageType::Request) {
      FUZZ_CHECK(status == 400 || status == 413 || status == 414 || status == 431 || status == 501);
    } else {
      FUZZ_CHECK(status == 502);
    }
    FUZZ_CHECK(!parser.error().reason.empty());
    FUZZ_CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n") == 0);
  }
  return visitor.finish(parser);
}

}  // namespace
}  // namespace weir::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir::http;
  if (size < 5) {
    return 0;
  }
  const uint8_t options = data[0];
  const uint32_t seed = data[1] | data[2] << 8 | data[3] << 16 | uint32_t{data[4]} << 24;
  const std::string_view stream(reinterpret_cast<const char*>(data + 5), size - 5);
#ifdef WEIR_FUZZ_RESPONSES
  const MessageType type = MessageType::Response;
#else
  const MessageType type = (options & kResponse) ? MessageType::Response : MessageType::Request;
#endif

  // Random split points, mostly small so that every state sees a buffer boundary.
  std::vector<size_t> pieces;
  Rng rng{seed ^ 0x9e3779b9u};
  for (size_t total = 0; total < stream.size();) {
    const uint32_t r = rng.next();
    const size_t piece = (r & 3) == 0 ? 1 + r % 64 : 1 + r % 7;
    pieces.push_back(piece);
    total += piece;
  }

  const std::string whole = run(type, options, seed, stream, {}, /*check_writer=*/true);
  const std::string split = run(type, options, seed, stream, pieces, /*check_writer=*/false);
  if (whole != split) {
    std::fprintf(stderr, "whole: %s\nsplit: %s\n", whole.c_str(), split.c_str());
    FUZZ_CHECK(whole == split);
  }
  return 0;
}
