#pragma once
// The server side of one HTTP/2 connection (RFC 9113), on nghttp2: framing, HPACK, stream
// states and flow control are nghttp2's; this class turns its callbacks into whole request
// heads, body pieces and trailers per stream (the same HeaderMap shape the HTTP/1 parser
// makes: pseudo headers first, `host` folded into :authority, cookies joined), frames
// responses from header maps, and adds the flood defences Envoy has on top of nghttp2's.
// It knows HTTP only: nothing of filters, plugins, sockets or stats.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "http/header_map.h"

struct nghttp2_session;

namespace weir::http {

// RFC 9113 §7 error codes (the ones weir sends or reports).
enum class Http2ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kEnhanceYourCalm = 0xb,
};

// Envoy's http2_protocol_options, with Envoy's defaults, and the header limits the HTTP/1
// parser also applies (max_request_headers_kb, max_headers_count).
struct Http2Options {
  uint32_t max_concurrent_streams = 2147483647;
  uint32_t initial_stream_window_size = 268435456;      // 256 MiB
  uint32_t initial_connection_window_size = 268435456;  // 256 MiB
  uint32_t hpack_table_size = 4096;
  // Flood limits (CVE-2019-9512..9518): frames queued for a client that does not read, and
  // inbound frames that cost work but carry nothing.
  uint32_t max_outbound_frames = 10000;
  uint32_t max_outbound_control_frames = 1000;
  uint32_t max_consecutive_inbound_frames_with_empty_payload = 1;
  uint32_t max_inbound_priority_frames_per_stream = 100;
  uint32_t max_inbound_window_update_frames_per_data_frame_sent = 10;
  // Rapid reset (CVE-2023-44487): past this many streams, a connection on which at least
  // half the streams were reset by the client before their response ended is closed.
  uint32_t premature_reset_total_stream_count = 500;
  size_t max_header_bytes = 60 * 1024;
  size_t max_headers = 100;
};

// Why the codec ended a stream or the connection (for stats and logs).
enum class Http2Event {
  kRxReset,               // the client reset a stream
  kTxReset,               // weir reset a stream
  kHeaderOverflow,        // a header block past the limits: stream reset
  kRxMessagingError,      // a malformed request (RFC 9113 §8.1.1): stream reset
  kOutboundFlood,         // too many frames queued for the client: connection closed
  kOutboundControlFlood,  // the same for PING/SETTINGS acks and RST_STREAM
  kInboundEmptyFramesFlood,
  kInboundPriorityFramesFlood,
  kInboundWindowUpdateFramesFlood,
  kPrematureResets,  // rapid reset: connection closed
  kProtocolError,    // any other connection error (bad preface, frame too large, ...)
  kGoawaySent,
};

class Http2ServerCodec {
 public:
  class Visitor {
   public:
    virtual ~Visitor() = default;
    // Bytes to send to the client, in order.
    virtual void write(std::string_view bytes) = 0;
    // A request head: pseudo headers (:method, :scheme, :authority, :path) first. The
    // visitor may move from `headers`.
    virtual void on_request_headers(int32_t stream, HeaderMap& headers, bool end_stream) = 0;
    // `data` is only valid during the call. Every byte handed over must be given back with
    // consume() (flow control: the client may send more once it is).
    virtual void on_request_data(int32_t stream, std::string_view data, bool end_stream) = 0;
    virtual void on_request_trailers(int32_t stream, HeaderMap& trailers) = 0;
    // The stream ended before the exchange completed: reset by the client or by weir (a
    // malformed request, a reset_stream() call, the connection closing). Called once per
    // stream the visitor saw headers for; nothing follows for it.
    virtual void on_stream_reset(int32_t stream, Http2ErrorCode code) = 0;
    // The stream's response was fully handed to the connection and its request fully
    // received: it is closed.
    virtual void on_stream_complete(int32_t stream) = 0;
    // Response data queued for the stream dropped under `low` bytes after being above
    // `high` (see set_send_watermarks).
    virtual void on_send_buffer_high(int32_t stream) = 0;
    virtual void on_send_buffer_low(int32_t stream) = 0;
    virtual void on_event(Http2Event event) = 0;
  };

  Http2ServerCodec(Visitor& visitor, const Http2Options& options);
  ~Http2ServerCodec();
  Http2ServerCodec(const Http2ServerCodec&) = delete;
  Http2ServerCodec& operator=(const Http2ServerCodec&) = delete;

  // Queues the server preface (SETTINGS). Call once, then flush().
  void start();
  // Feeds client bytes. Returns false on a connection error: a GOAWAY is queued, flush()
  // then close the connection.
  bool feed(std::string_view data);
  // Writes what is queued (frames and response data the client's windows allow) through
  // Visitor::write. Returns false when the connection should be closed (after a GOAWAY, or
  // nothing more to say on a connection that is going away).
  bool flush();

  // Response side. Pseudo header :status first; other pseudo headers and HTTP/1
  // connection-specific fields (connection, keep-alive, transfer-encoding, upgrade,
  // proxy-connection) are not sent.
  void send_informational(int32_t stream, const HeaderMap& headers);
  void send_headers(int32_t stream, const HeaderMap& headers, bool end_stream);
  void send_data(int32_t stream, std::string_view data, bool end_stream);
  void send_trailers(int32_t stream, const HeaderMap& trailers);
  // Resets the stream (RST_STREAM); on_stream_reset follows when nghttp2 closes it.
  void reset_stream(int32_t stream, Http2ErrorCode code);
  // Flow control: `bytes` of the stream's request data were processed.
  void consume(int32_t stream, size_t bytes);
  // Response bytes queued for `stream` and not yet framed.
  size_t queued(int32_t stream) const;
  void set_send_watermarks(size_t high, size_t low) {
    send_high_ = high;
    send_low_ = low;
  }
  // Graceful shutdown: GOAWAY (NO_ERROR) with the last stream id; streams in flight finish.
  void goaway();
  // Whether nghttp2 has nothing left to read or write (after GOAWAY and every stream done).
  bool done() const;
  size_t open_streams() const { return streams_.size(); }
  // Whether the client is in the middle of a header block: a HEADERS or CONTINUATION frame
  // not fully received, or a HEADERS without END_HEADERS whose last CONTINUATION has not
  // come. HTTP/2 lets nothing else through meanwhile, so this is what request_headers_timeout
  // bounds (the proxy-side manager runs the timer).
  bool receiving_headers() const { return frame_is_header_block_ || header_block_open_; }

 private:
  struct Stream;
  struct Callbacks;
  friend struct Callbacks;

  Stream* find(int32_t id);
  void connection_error(Http2Event event, Http2ErrorCode code);
  void note_outbound_frame(uint8_t type);
  void end_stream(int32_t id, uint32_t error_code);
  void note_reset_sent(int32_t id);
  bool reused_stream_id(int32_t id) const;

  Visitor& visitor_;
  Http2Options options_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  size_t send_high_ = SIZE_MAX;
  size_t send_low_ = 0;
  bool failed_ = false;
  bool goaway_sent_ = false;
  int32_t last_request_stream_id_ = 0;
  // Streams weir reset lately: a HEADERS on one is trailers in flight, not a reused id.
  static constexpr size_t kResetsRemembered = 1024;
  std::deque<int32_t> reset_sent_;
  std::unordered_set<int32_t> reset_sent_set_;
  std::vector<int32_t> low_pending_;  // streams under the low watermark, told after framing
  // Flood accounting: frames written since the client last took all our output is the
  // proxy-side manager's to report (note_output_drained); counted here per flush.
  uint32_t outbound_frames_ = 0;
  uint32_t outbound_control_frames_ = 0;
  uint32_t consecutive_empty_frames_ = 0;
  uint64_t inbound_priority_frames_ = 0;
  uint64_t inbound_window_update_frames_ = 0;
  uint64_t outbound_data_frames_ = 0;
  uint64_t streams_total_ = 0;
  uint64_t streams_reset_early_ = 0;
  // Frame boundaries of the client's bytes, tracked apart from nghttp2 (which says
  // nothing of a frame it has begun but not finished): for receiving_headers().
  void track_frames(std::string_view data);
  size_t preface_left_ = 24;
  uint8_t frame_header_[9] = {};
  size_t frame_header_have_ = 0;
  size_t frame_payload_left_ = 0;
  bool frame_is_header_block_ = false;    // the frame being received is HEADERS/CONTINUATION
  bool frame_ends_header_block_ = false;  // ... with END_HEADERS
  bool header_block_open_ = false;        // a HEADERS without END_HEADERS was received

 public:
  // The connection's output reached the client's socket (no backlog): outbound frame
  // counts start over.
  void note_output_drained() {
    outbound_frames_ = 0;
    outbound_control_frames_ = 0;
  }
};

}  // namespace weir::http
