// Feeds arbitrary bytes to the HTTP/1 request or response parser, once whole and once in
// random pieces, with a visitor that checks the callback contract. Both runs must report
// the same thing; heads that parse must survive a write/parse round trip.
//
// Input layout: byte 0 holds option bits, bytes 1-4 seed the split points and per-message
// choices, the rest is the HTTP stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/http1_parser.h"
#include "http/http1_writer.h"

namespace weir::http {
namespace {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

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

// Parses a written head back and returns what the parser made of it.
struct HeadCapture : Http1Visitor {
  bool got = false;
  HeaderMap headers;
  void on_headers(HeaderMap& h, const MessageHead&, bool) override {
    if (!got) {
      headers = h;
    }
    got = true;
  }
  void on_body(std::string_view, bool) override {}
  void on_trailers(HeaderMap&) override {}
  void on_message_complete() override {}
};

void check_round_trip(MessageType type, const HeaderMap& headers) {
  std::string wire;
  if (type == MessageType::Request) {
    write_request_head(headers, wire);
  } else {
    write_response_head(headers, wire);
  }
  HeadCapture capture;
  Http1Parser parser(type, capture);
  parser.feed(wire);
  FUZZ_CHECK(!parser.has_error());
  FUZZ_CHECK(capture.got);
  FUZZ_CHECK(capture.headers.entries() == headers.entries());
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
      FUZZ_CHECK(headers.get(":scheme") == "http");
    } else {
      FUZZ_CHECK(entries[0].first == ":status");
      FUZZ_CHECK(entries[0].second.size() == 3);
    }
    FUZZ_CHECK(head.http_major == 1);
    FUZZ_CHECK(!(head.chunked && head.has_content_length));
    head_ = head;
    body_size_ = 0;
    trace_ += "H";
    for (const auto& [name, value] : entries) {
      trace_ += name + "=" + value + ";";
    }
    trace_ += head.keep_alive ? "k" : "-";
    trace_ += head.upgrade ? "u" : "-";
    trace_ += end_stream ? "E" : "-";
    if (check_writer_) {
      check_round_trip(type_, headers);
    }
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
    trace_ += "T";
    for (const auto& [name, value] : trailers.entries()) {
      trace_ += name + "=" + value + ";";
    }
    state_ = State::kEnded;
  }

  void on_message_complete() override {
    FUZZ_CHECK(!stopped_);
    FUZZ_CHECK(state_ == State::kEnded);
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
    FUZZ_CHECK(parser.error().http_status == 400 || parser.error().http_status == 431);
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
  const MessageType type = (options & kResponse) ? MessageType::Response : MessageType::Request;

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
