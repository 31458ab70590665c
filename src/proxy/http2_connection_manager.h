#pragma once
// The HTTP/2 side of one downstream connection: maps the codec's streams onto
// ActiveStreams, the same filter chain HTTP/1 requests run through, each stream with its
// own flow control (its request data is held unconsumed, so the client's window closes,
// while its upstream is backed up; its response data pauses the upstream past the buffer
// limit). The connection itself stays with HttpConnectionManager, which hands its events
// here once the connection speaks HTTP/2 (prior knowledge, AUTO's preface sniff, or ALPN).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "http/http2_server_codec.h"
#include "net/connection.h"
#include "proxy/active_stream.h"
#include "proxy/connection_manager_setup.h"

namespace weir::proxy {

// Envoy's http2_protocol_options as the codec takes them, with the HCM's header limits.
http::Http2Options http2_options(const config::HttpConnectionManagerConfig& config);

class Http2ConnectionManager : public http::Http2ServerCodec::Visitor {
 public:
  // `connection_info`: the StreamInfo fields every stream of this connection starts with
  // (connection id, addresses). `connection` belongs to the caller and outlives this.
  Http2ConnectionManager(ConnectionManagerSetup& setup, net::Connection& connection,
                         StreamInfo connection_info);
  ~Http2ConnectionManager() override;

  // Connection events, handed over by the connection's owner.
  void on_data(std::string& input);
  void on_close(std::string_view reason);
  void on_above_write_high_watermark();
  void on_below_write_low_watermark();
  void on_write_drained() { codec_.note_output_drained(); }
  // Graceful: GOAWAY, then close once the streams in flight are done.
  void drain();
  bool idle() const { return streams_.empty(); }

  // Codec visitor.
  void write(std::string_view bytes) override;
  void on_request_headers(int32_t id, http::HeaderMap& headers, bool end_stream) override;
  void on_request_data(int32_t id, std::string_view data, bool end_stream) override;
  void on_request_trailers(int32_t id, http::HeaderMap& trailers) override;
  void on_stream_reset(int32_t id, http::Http2ErrorCode code) override;
  void on_stream_complete(int32_t id) override;
  void on_send_buffer_high(int32_t id) override;
  void on_send_buffer_low(int32_t id) override;
  void on_event(http::Http2Event event) override;

 private:
  class Stream;
  Stream* find(int32_t id);
  void stream_finished(Stream& stream);
  void schedule_flush() { flush_call_.schedule(); }
  void flush();
  void redeliver_held();
  void arm_idle_timer();
  void on_idle_timeout();
  void on_request_headers_timeout();

  ConnectionManagerSetup& setup_;
  net::Connection& connection_;
  StreamInfo connection_info_;
  http::Http2ServerCodec codec_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  uint64_t next_stream_id_ = 1;
  uint32_t requests_started_ = 0;
  bool closed_ = false;
  bool going_away_ = false;
  bool connection_above_high_ = false;
  // Frames are written once per event, after everything it caused was queued.
  event::EventLoop::ScheduledCall flush_call_;
  // Hands streams their held request data after they resume reading.
  event::EventLoop::ScheduledCall redeliver_call_;
  event::EventLoop::Timer idle_timer_;
  event::EventLoop::Timer request_headers_timer_;  // a header block in progress
};

}  // namespace weir::proxy
