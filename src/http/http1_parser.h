#pragma once
// Incremental HTTP/1.x parser for requests or responses (RFC 9112), weir's own: it scans
// the fed buffer line by line and hands the visitor whole heads, body pieces that point into
// the buffer, and trailers. Feed it bytes as they arrive; it calls the visitor for each part
// of each message, in order, and handles pipelining (several messages in one feed) itself.
// It is as strict as nginx where peers could disagree about a message (request smuggling);
// the rules are listed at ParseError. It knows HTTP only: nothing of filters or plugins.
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
  // as separate entries, values trimmed of surrounding whitespace (obs-fold is an error,
  // never joined), plus pseudo headers first:
  // requests get :method, :path, :authority and :scheme; responses get :status.
  // :path is the request target as sent, except for an absolute-form target
  // ("GET http://host/p?q HTTP/1.1"), whose path and query it gets ("/" when empty).
  // :authority is the Host value, or the target's authority for an absolute-form target or
  // CONNECT (which win over Host, RFC 9112 §3.2.2); absent when there is none. The host
  // field itself is not repeated in the map. :scheme is "http", or the absolute-form
  // target's scheme ("http" or "https"). content-length and transfer-encoding stay as
  // received. The visitor may move from `headers`.
  virtual void on_headers(HeaderMap& headers, const MessageHead& head, bool end_stream) = 0;
  // `data` points into the fed buffer: copy it to keep it. Never empty unless end_stream.
  virtual void on_body(std::string_view data, bool end_stream) = 0;
  // Trailers of a chunked message (never empty when called); end of message follows.
  // Fields that may not appear in trailers are dropped (see kForbiddenTrailers in
  // http1_parser.cc: framing, routing, hop-by-hop, authentication, request modifiers and
  // content format, after RFC 9110 §6.5.1); if none is left, the message ends with an empty
  // on_body instead.
  virtual void on_trailers(HeaderMap& trailers) = 0;
  // The message is complete. Called after on_headers/on_body/on_trailers said end_stream.
  virtual void on_message_complete() = 0;
};

// Why parsing stopped. For a request, `http_status` is what to answer the client:
//   400  anything malformed, in particular (RFC 9112, as strict as nginx or stricter):
//        - a request line other than `method SP target SP HTTP/1.x CRLF` (method a token
//          of upper-case letters, '-' and '_' as nginx takes; no version, i.e. HTTP/0.9; a
//          major version other than 1, HTTP/2.0 included (nginx answers 505 there; a
//          client that sends it speaks no HTTP weir knows, so 400 as for any other); extra
//          whitespace);
//        - a target that is not origin-form, absolute-form (http/https, no userinfo),
//          asterisk-form with OPTIONS, or authority-form (host:port) with CONNECT, or has a
//          control byte or space; CONNECT with a body;
//        - a line ending other than CRLF anywhere (bare LF or bare CR in the start line,
//          field lines, the end of the head, chunk lines, after chunk data, trailers);
//          more than kMaxLeadingEmptyLines empty lines before the request line;
//        - a field name that is not a token, whitespace before the colon, a control byte
//          other than HTAB in a value, obs-fold (a line starting with SP or HTAB);
//        - framing: two Transfer-Encoding fields, two Content-Length fields (even equal),
//          both; a Transfer-Encoding whose last coding is not chunked or that applies it
//          twice; a Content-Length that is not plain digits; a chunk size that is not plain
//          hex or overflows 64 bits; a chunk extension that is not `;name[=token|"quoted"]`;
//          a chunk line over kMaxChunkLineBytes; HTAB in a framing field (nginx does not
//          trim it, so peers would read the value differently);
//        - HTTP/1.1 without exactly one Host, several Host fields in any version, or a Host
//          that is not an authority (reg-name, IPv4 or [IPv6], optional :port; no empty
//          DNS label, as nginx);
//        - a message cut short by EOF.
//   413  a Content-Length or chunk size above ParserLimits::max_content_length (or past 64
//        bits).
//   414  a request line over ParserLimits::max_request_line_bytes.
//   431  a header or trailer section over max_header_bytes or max_headers.
//   501  Transfer-Encoding codings weir does not decode before a final chunked
//        ("gzip, chunked"): never dropped silently.
// HTTP/1.0 with Transfer-Encoding: chunked is parsed, with keep_alive false (RFC 9112
// §6.1: close after responding).
// For a response every error has http_status 502 (what a proxy answers its client for a
// malformed upstream response); the same rules apply, except that a bare LF ends a line
// (as nginx, which is lenient with upstreams: being strict there only makes 502s), the
// reason phrase may be missing, and any Transfer-Encoding but chunked is an error.
struct ParseError {
  int http_status = 400;  // what to answer the peer: see above
  std::string reason;     // for logs and response_code_details
};

// Applied to the header section and, separately, to the trailer section. Header bytes are
// those of each line but its line ending, less the request line's spaces and version and
// each field line's colon: the method, the request target, field names and values (with any
// whitespace around them).
struct ParserLimits {
  size_t max_header_bytes = 60 * 1024;  // Envoy's default max_request_headers_kb
  size_t max_headers = 100;
  // The request (or status) line, all of it but the line ending.
  size_t max_request_line_bytes = 60 * 1024;
  // Above this a Content-Length is refused (413) rather than streamed: no real body comes
  // near it, and it bounds what counters and plugins must represent.
  uint64_t max_content_length = uint64_t{1} << 40;  // 1 TiB
};

// Longest chunk-size line (size and extensions) accepted.
inline constexpr size_t kMaxChunkLineBytes = 4096;
// Empty lines accepted before a start line (RFC 9112 §2.2 asks for at least one).
inline constexpr int kMaxLeadingEmptyLines = 8;

class Http1Parser {
 public:
  Http1Parser(MessageType type, Http1Visitor& visitor, ParserLimits limits = {});
  ~Http1Parser();
  // Back to the state of a parser just made for `visitor` (same type and limits), keeping
  // the memory it had grown: for reusing one parser across upstream requests. Not from a
  // visitor callback.
  void reset(Http1Visitor& visitor);
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
