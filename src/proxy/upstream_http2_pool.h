#pragma once
// Per worker, per HTTP/2 cluster: a few multiplexed connections. A new stream goes on the
// first connection with room (its streams under both the config's and the server's
// max_concurrent_streams, and no GOAWAY received); a new connection is opened only when
// every one is full. A connection that breaks fails its streams; one without streams for
// the cluster's idle_timeout is closed; one the server sent GOAWAY to takes no new
// streams and closes when its last stream ends.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "event/event_loop.h"
#include "http/http2_client_codec.h"
#include "net/connection.h"
#include "proxy/upstream_request.h"

namespace weir::proxy {

class UpstreamPool;
struct Cluster;
class Http2UpstreamPool;

// What a stream on an HTTP/2 upstream connection is told. Never called from inside the
// Http2UpstreamConnection call that the handler itself made (send_*, reset_stream): those
// only queue.
class Http2StreamHandler {
 public:
  virtual ~Http2StreamHandler() = default;
  // The connection is up (TCP, TLS handshake): once per stream, before its response.
  virtual void on_stream_connected(std::string_view endpoint, const net::tls::TlsInfo* tls) = 0;
  virtual void on_stream_headers(http::HeaderMap& headers, bool end_stream) = 0;
  // The handler must give the bytes back with Http2UpstreamConnection::consume once it
  // has passed them on (the server's window for the stream reopens then).
  virtual void on_stream_data(std::string_view data, bool end_stream) = 0;
  virtual void on_stream_trailers(http::HeaderMap& trailers) = 0;
  virtual void on_stream_complete() = 0;
  // The stream ended early; nothing follows. `response_started`: its headers had come.
  virtual void on_stream_reset(UpstreamFailure kind, std::string_view reason) = 0;
  virtual void on_stream_send_high() {}
  virtual void on_stream_send_low() {}
};

class Http2UpstreamConnection final : public net::Connection::Handler,
                                      public http::Http2ClientCodec::Visitor {
 public:
  Http2UpstreamConnection(Http2UpstreamPool& pool, std::unique_ptr<net::Connection> connection,
                          std::string endpoint);
  ~Http2UpstreamConnection() override;

  // Whether a new stream may start here now.
  bool has_room() const;
  bool usable() const { return !closed_ && !codec_.goaway_received() && !codec_.failed(); }
  size_t active_streams() const { return streams_.size(); }

  // Starts a request; returns its stream id, or -1 (the connection cannot take it). The
  // handler's callbacks start later, never inside this call.
  int32_t start_stream(Http2StreamHandler& handler, const http::HeaderMap& headers,
                       bool end_stream);
  void send_data(int32_t id, std::string_view data, bool end_stream);
  void send_trailers(int32_t id, const http::HeaderMap& trailers);
  // RST_STREAM(CANCEL); the handler hears nothing more.
  void reset_stream(int32_t id);
  void consume(int32_t id, size_t bytes);

  // net::Connection::Handler
  void on_data(std::string& input) override;
  void on_connected() override;
  void on_close(bool by_peer, std::string_view reason) override;
  // Http2ClientCodec::Visitor
  void write(std::string_view bytes) override;
  void on_response_headers(int32_t stream, http::HeaderMap& headers, bool end_stream) override;
  void on_response_data(int32_t stream, std::string_view data, bool end_stream) override;
  void on_response_trailers(int32_t stream, http::HeaderMap& trailers) override;
  void on_stream_reset(int32_t stream, http::Http2ErrorCode code, bool refused) override;
  void on_stream_complete(int32_t stream) override;
  void on_send_buffer_high(int32_t stream) override;
  void on_send_buffer_low(int32_t stream) override;
  void on_goaway(int32_t last_stream_id, http::Http2ErrorCode code) override;
  void on_event(http::Http2Event event) override;

 private:
  Http2StreamHandler* find(int32_t id);
  // Frames what the codec queued, after the current callback: a handler's call never
  // comes back to it (a stream can close as its last frame is sent), and frames for
  // several streams go out in one write.
  void schedule_flush() { flush_call_.schedule(); }
  void flush_now();
  void close(std::string_view reason, UpstreamFailure kind);
  void note_idle();

  Http2UpstreamPool& pool_;
  std::unique_ptr<net::Connection> connection_;
  std::string endpoint_;
  http::Http2ClientCodec codec_;
  std::unordered_map<int32_t, Http2StreamHandler*> streams_;
  std::vector<int32_t> unannounced_;  // streams not yet told on_stream_connected
  event::EventLoop::Timer connect_timer_;
  event::EventLoop::Timer idle_timer_;
  event::EventLoop::ScheduledCall flush_call_;
  bool connected_ = false;
  bool closed_ = false;
};

class Http2UpstreamPool {
 public:
  Http2UpstreamPool(event::EventLoop& loop, UpstreamPool& tcp_pool);
  ~Http2UpstreamPool();

  // A connection with room for one more stream: an open one, else a new one (connecting).
  Result<Http2UpstreamConnection*> pick();
  const Cluster& cluster() const;
  event::EventLoop& loop() { return loop_; }
  const http::Http2Options& options() const { return options_; }
  uint32_t max_concurrent_streams() const { return max_concurrent_streams_; }
  size_t connection_count() const { return connections_.size(); }

 private:
  friend class Http2UpstreamConnection;
  // The connection closed: freed once its callbacks have returned.
  void remove(Http2UpstreamConnection* connection);
  void connection_closed();

  event::EventLoop& loop_;
  UpstreamPool& tcp_pool_;
  http::Http2Options options_;
  uint32_t max_concurrent_streams_;
  std::vector<std::unique_ptr<Http2UpstreamConnection>> connections_;
};

}  // namespace weir::proxy
