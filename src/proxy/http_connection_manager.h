#pragma once
// One downstream HTTP/1 connection: parses requests, runs one ActiveStream at a time
// (pipelined requests wait, unparsed, until the previous response is written, so
// responses go out in order), answers malformed input with a 4xx and closes.
//
// Also the connection's limits (Envoy's names): request_headers_timeout (408),
// common_http_protocol_options.idle_timeout, max_requests_per_connection,
// max_headers_count and max_request_headers_kb (431), and flow control: the stream may
// stop reading the client, and hears when the client's output buffer crosses its
// watermarks. After a 101 the connection is a tunnel: client bytes go to the stream raw.
//
// A connection that speaks HTTP/2 (codec_type HTTP2, AUTO with the client's preface, or
// start_http2() after ALPN) hands its events to an Http2ConnectionManager instead.
#include <functional>
#include <memory>

#include "http/http1_parser.h"
#include "net/address.h"
#include "net/connection.h"
#include "proxy/active_stream.h"
#include "proxy/connection_manager_setup.h"
#include "proxy/http2_connection_manager.h"

namespace weir::proxy {

class HttpConnectionManager : public net::Connection::Handler,
                              public http::Http1Visitor,
                              public StreamOwner {
 public:
  using ClosedCallback = std::function<void(HttpConnectionManager*)>;
  // `tls`: the connection's TLS session (null: plaintext), created from setup.tls.
  HttpConnectionManager(ConnectionManagerSetup& setup, int fd, const net::Address& peer,
                        const net::Address& local, ClosedCallback on_closed,
                        std::unique_ptr<net::tls::TlsSocket> tls = nullptr);
  ~HttpConnectionManager() override;

  // Drain: close now if idle, else after the current response (HTTP/2: GOAWAY, then close
  // after the streams in flight).
  void drain();
  bool idle() const { return !stream_ && (!http2_ || http2_->idle()); }
  bool http2() const { return http2_ != nullptr; }
  // Speak HTTP/2 on this connection from now on: for a connection whose TLS handshake
  // chose ALPN "h2" (before any byte of it was read). No-op once a request was read.
  void start_http2();

  // Connection::Handler
  void on_data(std::string& input) override;
  void on_close(bool by_peer, std::string_view reason) override;
  void on_connected() override;  // the TLS handshake is done
  void on_above_write_high_watermark() override;
  void on_below_write_low_watermark() override;
  void on_write_drained() override;
  // Http1Visitor
  void on_headers(http::HeaderMap& headers, const http::MessageHead& head,
                  bool end_stream) override;
  void on_body(std::string_view data, bool end_stream) override;
  void on_trailers(http::HeaderMap& trailers) override;
  void on_message_complete() override;
  // StreamOwner
  void write_downstream(std::string_view data) override;
  void on_stream_finished(bool close_connection) override;
  void read_disable_downstream(bool disable) override;
  bool downstream_above_high_watermark() const override;
  void on_tunnel_established() override;

 private:
  void answer_protocol_error();
  // Answers without a stream (no request headers yet) and closes.
  void reply_and_close(int status, std::string_view body);
  void arm_idle_timer();
  void arm_request_headers_timer();
  void on_idle_timeout();
  void on_request_headers_timeout();
  void redeliver_later() { redeliver_.schedule(); }
  void redeliver();
  // AUTO: whether the first bytes are HTTP/2's preface (then HTTP/2 takes over). False
  // while they could still be either.
  bool sniff_http2_preface(std::string& input);

  ConnectionManagerSetup& setup_;
  net::Connection connection_;
  http::Http1Parser parser_;
  // The connection's addresses, formatted once: every stream's StreamInfo copies them.
  std::string peer_ip_;
  std::string local_ip_;
  uint16_t peer_port_;
  uint16_t local_port_;
  ClosedCallback on_closed_;
  std::unique_ptr<ActiveStream> stream_;
  uint64_t next_stream_id_ = 1;
  uint32_t requests_started_ = 0;
  uint32_t read_disabled_ = 0;  // nested read_disable_downstream(true) calls
  bool closed_ = false;
  bool draining_ = false;
  bool tunnelling_ = false;
  bool sniff_preface_ = false;  // AUTO, and nothing read yet
  bool tls_ = false;
  // Owned by the connection, re-armed per request: no allocation, no hash table per arm.
  event::EventLoop::Timer idle_timer_;
  event::EventLoop::Timer request_headers_timer_;
  // Hands over buffered (pipelined) input after the current callback; cancelled with the
  // manager, so it never runs on a manager that is gone.
  event::EventLoop::ScheduledCall redeliver_;
  // Set when the connection speaks HTTP/2; destroyed before connection_.
  std::unique_ptr<Http2ConnectionManager> http2_;
};

}  // namespace weir::proxy
