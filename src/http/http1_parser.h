#pragma once
// Incremental HTTP/1.x parser for requests or responses (a thin layer over Debian's
// http-parser). Feed it bytes as they arrive; it calls the visitor for each part of each
// message, in order, and handles pipelining (several messages in one feed) itself.
// It knows HTTP only: nothing of filters or plugins.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/header_map.h"

namespace weir::http {

enum class MessageType { Request, Response };

// Facts about a message's framing, known when its headers are complete.
struct MessageHead {
  int http_major = 1;
  int http_minor = 1;
  bool keep_alive = true;       // per HTTP version and Connection header
  bool chunked = false;         // transfer-encoding: chunked
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool expect_continue = false; // request has "expect: 100-continue"
  bool upgrade = false;         // connection upgrade / CONNECT (not proxied yet)
};

class Http1Visitor {
 public:
  virtual ~Http1Visitor() = default;
  // `headers` holds the message's fields with lower-case names, plus pseudo headers:
  // requests get :method, :path, :authority (from Host) and :scheme ("http");
  // responses get :status. The visitor may move from `headers`.
  virtual void on_headers(HeaderMap& headers, const MessageHead& head, bool end_stream) = 0;
  virtual void on_body(std::string_view data, bool end_stream) = 0;
  // Trailers of a chunked message (never empty when called); end of message follows.
  virtual void on_trailers(HeaderMap& trailers) = 0;
  // The message is complete. Called after on_headers/on_body/on_trailers said end_stream.
  virtual void on_message_complete() = 0;
};

struct ParseError {
  int http_status = 400;  // what to answer the peer: 400, or 413/431 for oversized parts
  std::string reason;     // for logs and response_code_details
};

struct ParserLimits {
  size_t max_header_bytes = 60 * 1024;  // Envoy's default max_request_headers_kb
  size_t max_headers = 100;
};

class Http1Parser {
 public:
  Http1Parser(MessageType type, Http1Visitor& visitor, ParserLimits limits = {});
  ~Http1Parser();
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses as much of `data` as possible. Returns the number of bytes consumed; fewer
  // than data.size() only after an error or while paused. On error, error() is set and
  // the connection must be closed after answering.
  size_t feed(std::string_view data);
  // Signals the peer closed: completes a response delimited by connection close.
  void feed_eof();

  // Stop consuming after the current message completes (used to hold pipelined requests
  // until the current one is answered). feed() then returns early; resume() and feed the
  // rest again.
  void pause_after_message(bool on) { pause_after_message_ = on; }
  bool paused() const;
  void resume();

  // For responses: the request was HEAD (or the response is to CONNECT), so the next
  // response has no body whatever its headers say. Set before feeding each response.
  void expect_no_body(bool on) { expect_no_body_ = on; }

  bool has_error() const { return has_error_; }
  const ParseError& error() const { return error_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool pause_after_message_ = false;
  bool expect_no_body_ = false;
  bool has_error_ = false;
  ParseError error_;
  friend struct Impl;
};

}  // namespace weir::http
