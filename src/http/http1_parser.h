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
  // Per HTTP version and Connection header; false too for a response whose body runs to
  // connection close.
  bool keep_alive = true;
  bool chunked = false;  // transfer-encoding: chunked
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool expect_continue = false;  // request has "expect: 100-continue"
  bool upgrade = false;          // connection upgrade / CONNECT (not proxied yet)
};

// Callbacks for one message, in this order:
//   on_headers, then on_body zero or more times, then possibly on_trailers, then
//   on_message_complete.
// Exactly one of on_headers / on_body / on_trailers ends the stream: on_headers or on_body
// with end_stream=true, or on_trailers (which always ends it). on_message_complete follows
// immediately. When the end of the body is only known after its last bytes (chunked without
// trailers, or a response delimited by connection close), the end comes as an extra
// on_body with empty data and end_stream=true. A content-length body ends on its last piece.
// 1xx responses are messages of their own (on_headers with end_stream=true, then
// on_message_complete); the final response follows as the next message.
// Callbacks run synchronously inside feed()/feed_eof(). They must not call feed(),
// feed_eof() or destroy the parser; they may call pause_after_message(), expect_no_body()
// and the const accessors. An exception thrown by a callback stops the parser (has_error())
// and propagates out of feed().
class Http1Visitor {
 public:
  virtual ~Http1Visitor() = default;
  // `headers` holds the message's fields with lower-case names, in order, repeated fields
  // as separate entries, values trimmed of surrounding whitespace (an obs-fold continuation
  // is joined on, keeping its leading whitespace), plus pseudo headers first:
  // requests get :method, :path (the request target as sent), :authority (the Host value;
  // absent when there is no Host; the host field itself is not repeated in the map) and
  // :scheme ("http"); responses get :status. content-length and transfer-encoding stay as
  // received. The visitor may move from `headers`.
  virtual void on_headers(HeaderMap& headers, const MessageHead& head, bool end_stream) = 0;
  // `data` points into the fed buffer: copy it to keep it. Never empty unless end_stream.
  virtual void on_body(std::string_view data, bool end_stream) = 0;
  // Trailers of a chunked message (never empty when called); end of message follows.
  virtual void on_trailers(HeaderMap& trailers) = 0;
  // The message is complete. Called after on_headers/on_body/on_trailers said end_stream.
  virtual void on_message_complete() = 0;
};

// Malformed start line, fields or chunk framing, an HTTP major version other than 1,
// content-length together with transfer-encoding, duplicate content-length (even equal
// ones: http-parser refuses them), several Host fields, a request transfer-encoding not
// ending in chunked, or a message cut short by EOF: 400. Header limits: 431.
struct ParseError {
  int http_status = 400;  // what to answer the peer: 400, or 413/431 for oversized parts
  std::string reason;     // for logs and response_code_details
};

// Applied to the header section and, separately, to the trailer section. Header bytes are
// those of the request target and of field names and values. http-parser itself refuses
// header sections over 80 KiB, whatever the limit here.
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
  // the connection must be closed after answering; feed() then returns 0 and calls nothing.
  // The parser keeps no pointer into `data` after returning; the unconsumed tail is the
  // caller's to keep and feed again after resume().
  // After a message with keep_alive == false (other than a 1xx) the connection is over:
  // later bytes are consumed and dropped without callbacks.
  size_t feed(std::string_view data);
  // Signals the peer closed, once every received byte has been fed: completes a response
  // delimited by connection close, or sets a 400 error if a message was cut short. Ignored
  // while paused (bytes may be waiting: call it again after resume() and feeding them).
  void feed_eof();

  // Stop consuming after each message completes (used to hold pipelined requests until the
  // current one is answered). feed() then returns the bytes consumed through the end of
  // that message (the callbacks of the next one have not started) and paused() is true;
  // feed() returns 0 until resume(); then feed the rest. May be switched on from inside
  // on_message_complete to pause after that very message.
  // A message with head.upgrade (Upgrade + Connection: upgrade, a 101, or CONNECT) always
  // pauses after it, since what follows may be another protocol: resume() to go on parsing
  // HTTP if the upgrade was refused, or stop feeding to tunnel.
  void pause_after_message(bool on) { pause_after_message_ = on; }
  bool paused() const;
  void resume();

  // For responses: the request was HEAD (or the response is to CONNECT), so the next
  // response has no body whatever its headers say. Set before feeding each response (or
  // from on_message_complete of the previous one). It applies to the next final (non-1xx)
  // response and is cleared once that response's headers are parsed.
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
