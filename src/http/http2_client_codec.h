#pragma once
// The client side of one HTTP/2 connection (RFC 9113), on nghttp2: weir's requests to an
// upstream. Bytes in (feed), bytes out (Visitor::write): no sockets. Requests go out from
// header maps (pseudo headers :method, :scheme, :authority, :path first; HTTP/1
// connection-specific fields dropped); responses come back as whole header maps, body
// pieces and trailers per stream. nghttp2 keeps the peer's SETTINGS (it holds back
// requests past the server's max_concurrent_streams), the flow-control windows and
// GOAWAY; weir adds the header-size limits the server codec and HTTP/1 parser apply.
// It knows HTTP only: nothing of pools, sockets or stats.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/header_map.h"
#include "http/http2_server_codec.h"  // Http2Options, Http2ErrorCode, Http2Event

struct nghttp2_session;

namespace weir::http {

class Http2ClientCodec {
 public:
  class Visitor {
   public:
    virtual ~Visitor() = default;
    // Bytes to send to the server, in order.
    virtual void write(std::string_view bytes) = 0;
    // The final response head (1xx heads are skipped), :status first. May be moved from.
    virtual void on_response_headers(int32_t stream, HeaderMap& headers, bool end_stream) = 0;
    // `data` is only valid during the call. Every byte handed over must be given back with
    // consume() (flow control: the server may send more once it is).
    virtual void on_response_data(int32_t stream, std::string_view data, bool end_stream) = 0;
    virtual void on_response_trailers(int32_t stream, HeaderMap& trailers) = 0;
    // The stream ended before the exchange completed (RST_STREAM from either side, a
    // malformed or oversized response, the connection failing). `refused`: the server did
    // not process the request (REFUSED_STREAM, or a stream above a GOAWAY's
    // last_stream_id), so it may be retried elsewhere. Called once per submitted stream;
    // nothing follows for it.
    virtual void on_stream_reset(int32_t stream, Http2ErrorCode code, bool refused) = 0;
    // Request sent whole and response received whole.
    virtual void on_stream_complete(int32_t stream) = 0;
    // Request data queued for the stream (not yet framed: the server's windows) went over
    // `high` / back under `low` (see set_send_watermarks).
    virtual void on_send_buffer_high(int32_t stream) { (void)stream; }
    virtual void on_send_buffer_low(int32_t stream) { (void)stream; }
    // The server sent GOAWAY: no new stream may start on this connection.
    virtual void on_goaway(int32_t last_stream_id, Http2ErrorCode code) {
      (void)last_stream_id;
      (void)code;
    }
    // The server's SETTINGS arrived (max_concurrent_streams may have changed).
    virtual void on_settings() {}
    virtual void on_event(Http2Event event) { (void)event; }
  };

  // From `options`: the windows weir advertises, hpack_table_size, and the header limits
  // for responses (max_header_bytes, max_headers). max_concurrent_streams is the pool's.
  Http2ClientCodec(Visitor& visitor, const Http2Options& options);
  ~Http2ClientCodec();
  Http2ClientCodec(const Http2ClientCodec&) = delete;
  Http2ClientCodec& operator=(const Http2ClientCodec&) = delete;

  // Queues the client preface and SETTINGS. Call once, then flush().
  void start();
  // Feeds server bytes. Returns false on a connection error (a GOAWAY is queued: flush(),
  // then close; every open stream is reset).
  bool feed(std::string_view data);
  // Writes what is queued through Visitor::write. False: the connection is finished.
  bool flush();

  // Starts a request; returns its stream id, or -1 when no stream can start (GOAWAY
  // received, connection failed, stream ids exhausted). With end_stream false, the body
  // follows with send_data / send_trailers.
  int32_t submit_request(const HeaderMap& headers, bool end_stream);
  void send_data(int32_t stream, std::string_view data, bool end_stream);
  void send_trailers(int32_t stream, const HeaderMap& trailers);
  // RST_STREAM; no callback follows for the stream.
  void reset_stream(int32_t stream, Http2ErrorCode code);
  // Flow control: `bytes` of the stream's response data were processed.
  void consume(int32_t stream, size_t bytes);
  size_t queued(int32_t stream) const;
  void set_send_watermarks(size_t high, size_t low) {
    send_high_ = high;
    send_low_ = low;
  }
  // Graceful shutdown from our side: GOAWAY(NO_ERROR); streams in flight finish.
  void goaway();

  // The server's SETTINGS_MAX_CONCURRENT_STREAMS; UINT32_MAX before its SETTINGS came.
  uint32_t peer_max_concurrent_streams() const;
  bool settings_received() const { return settings_received_; }
  bool goaway_received() const { return goaway_received_; }
  bool failed() const { return failed_; }
  size_t open_streams() const { return streams_.size(); }

 private:
  struct Stream;
  struct Callbacks;
  friend struct Callbacks;

  Stream* find(int32_t id);
  void connection_error(Http2Event event, Http2ErrorCode code);
  void end_stream(int32_t id, uint32_t error_code);

  Visitor& visitor_;
  Http2Options options_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  size_t send_high_ = SIZE_MAX;
  size_t send_low_ = 0;
  bool failed_ = false;
  bool settings_received_ = false;
  bool goaway_received_ = false;
  int32_t goaway_last_stream_id_ = INT32_MAX;
  std::vector<int32_t> low_pending_;  // streams under the low watermark, told after framing
};

}  // namespace weir::http
