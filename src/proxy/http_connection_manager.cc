#include "proxy/http_connection_manager.h"

#include <spdlog/spdlog.h>

#include "http/http1_writer.h"

namespace weir::proxy {

namespace {

http::ParserLimits request_limits(const config::HttpConnectionManagerConfig& config) {
  http::ParserLimits limits;
  limits.max_header_bytes = static_cast<size_t>(config.max_request_headers_kb) * 1024;
  limits.max_headers = config.max_headers_count;
  return limits;
}

// The body of a reply the connection manager makes itself: the status's reason phrase
// (400, 413, 414, 431 or 501 from the parser), or Envoy's text for the header timeout.
std::string_view reply_body(int status) {
  if (status == 408) return "request header timeout";
  return http::reason_phrase(status);
}

}  // namespace

HttpConnectionManager::HttpConnectionManager(ConnectionManagerSetup& setup, int fd,
                                             const net::Address& peer, const net::Address& local,
                                             ClosedCallback on_closed,
                                             std::unique_ptr<net::tls::TlsSocket> tls)
    : setup_(setup),
      connection_(setup.loop, fd, false, std::move(tls)),
      parser_(http::MessageType::Request, *this, request_limits(setup.config)),
      peer_ip_(peer.ip()),
      local_ip_(local.ip()),
      peer_port_(peer.port()),
      local_port_(local.port()),
      on_closed_(std::move(on_closed)),
      idle_timer_(setup.loop, [this] { on_idle_timeout(); }),
      request_headers_timer_(setup.loop, [this] { on_request_headers_timeout(); }),
      redeliver_(setup.loop, [this] { redeliver(); }) {
  connection_.set_handler(this);
  connection_.set_buffer_limit(setup_.config.per_connection_buffer_limit_bytes);
  // A client that hangs up while flow control holds it must not hold its stream (and the
  // upstream connection) until the upstream moves.
  connection_.set_close_on_hangup_while_paused(true);
  // One message per feed: the next pipelined request waits until this one is answered
  // (responses go out in order), and a partial request head is told from a finished one.
  parser_.pause_after_message(true);
  setup_.stats.downstream_cx_total.inc();
  setup_.stats.downstream_cx_active.add(1);
  setup_.stats.listener_downstream_cx_total.inc();
  if (connection_.connecting()) {  // only a TLS connection starts out connecting
    tls_ = true;
    setup_.stats.downstream_cx_ssl_total.inc();
    setup_.stats.downstream_cx_ssl_active.add(1);
    if (setup_.tls) connection_.set_handshake_timeout(setup_.tls->handshake_timeout());
  }
  arm_idle_timer();
  if (setup_.config.codec_type == config::CodecType::Http2) {
    // Over TLS, once the handshake is done (on_connected): the streams then carry its facts.
    if (!tls_) start_http2();
  } else {
    sniff_preface_ = setup_.config.codec_type == config::CodecType::Auto;
  }
}

void HttpConnectionManager::start_http2() {
  if (http2_ || stream_ || closed_ || requests_started_ > 0) return;
  sniff_preface_ = false;
  idle_timer_.disarm();
  request_headers_timer_.disarm();
  StreamInfo info;
  info.connection_id = connection_.id();
  info.downstream_remote_address = peer_ip_;
  info.downstream_remote_port = peer_port_;
  info.downstream_local_address = local_ip_;
  info.downstream_local_port = local_port_;
  info.protocol = "HTTP/2";
  info.downstream_tls = connection_.tls_info();
  http2_ = std::make_unique<Http2ConnectionManager>(setup_, connection_, std::move(info));
}

bool HttpConnectionManager::sniff_http2_preface(std::string& input) {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const size_t n = std::min(input.size(), kPreface.size());
  if (std::string_view(input).substr(0, n) != kPreface.substr(0, n)) {
    sniff_preface_ = false;  // HTTP/1
    return false;
  }
  if (n < kPreface.size()) return false;  // could be either yet: wait for more
  start_http2();
  return true;
}

void HttpConnectionManager::on_connected() {
  // The TLS handshake is done: HTTP/2 when ALPN chose "h2" or the listener speaks only
  // HTTP/2; otherwise HTTP/1.1 (and AUTO still recognises the HTTP/2 preface).
  if (setup_.config.codec_type == config::CodecType::Http2) {
    start_http2();
    return;
  }
  switch (downstream_codec_for(connection_.negotiated_protocol())) {
    case DownstreamCodec::Http1:
      break;
    case DownstreamCodec::Http2:
      if (setup_.config.codec_type != config::CodecType::Http1) start_http2();
      break;
  }
}

HttpConnectionManager::~HttpConnectionManager() { connection_.set_handler(nullptr); }

void HttpConnectionManager::arm_idle_timer() {
  auto timeout = setup_.config.idle_timeout;
  if (timeout.count() <= 0) return;
  idle_timer_.arm(timeout);
}

void HttpConnectionManager::on_idle_timeout() {
  if (stream_ || closed_) return;
  setup_.stats.downstream_cx_idle_timeout.inc();
  connection_.close();
}

// Slowloris: a client that starts a request head must finish it in time. Armed when the
// first bytes of a head are read, disarmed when the head is complete.
void HttpConnectionManager::arm_request_headers_timer() {
  auto timeout = setup_.config.request_headers_timeout;
  if (timeout.count() <= 0 || request_headers_timer_.armed()) return;
  request_headers_timer_.arm(timeout);
}

void HttpConnectionManager::on_request_headers_timeout() {
  if (stream_ || closed_) return;
  setup_.stats.downstream_rq_header_timeout.inc();
  reply_and_close(408, reply_body(408));
}

void HttpConnectionManager::redeliver() {
  if (!closed_ && read_disabled_ == 0) connection_.redeliver();
}

void HttpConnectionManager::on_data(std::string& input) {
  if (closed_) return;
  if (http2_) {
    http2_->on_data(input);
    return;
  }
  if (sniff_preface_) {
    if (sniff_http2_preface(input)) {
      http2_->on_data(input);
      return;
    }
    if (sniff_preface_) {
      arm_request_headers_timer();  // part of a preface: no slower than a request head
      return;
    }
  }
  if (tunnelling_) {
    // After a 101 the client's bytes belong to the upgraded protocol: relayed as they come.
    if (stream_) stream_->on_request_body(input, false);
    input.clear();
    return;
  }
  if (parser_.has_error()) {
    input.clear();
    return;
  }
  while (!input.empty() && connection_.is_open()) {
    // While a stream is answered, the next pipelined request waits in the buffer.
    if (stream_ && parser_.paused()) return;
    parser_.resume();
    size_t used = parser_.feed(input);
    input.erase(0, used);
    if (parser_.has_error()) {
      answer_protocol_error();
      return;
    }
    if (!parser_.paused()) {
      // Everything was consumed and no message ended: part of a head (or of a body).
      if (!stream_ && used > 0) arm_request_headers_timer();
      return;
    }
  }
}

void HttpConnectionManager::answer_protocol_error() {
  setup_.stats.downstream_cx_protocol_error.inc();
  const auto& err = parser_.error();
  spdlog::debug("connection {}: bad request: {}", connection_.id(), err.reason);
  if (stream_) {
    // The head was fine, the body is not: the stream answers (or resets, if its response
    // started) and the connection closes after it.
    stream_->on_request_protocol_error(static_cast<uint32_t>(err.http_status), err.reason);
    return;
  }
  reply_and_close(err.http_status, reply_body(err.http_status));
}

void HttpConnectionManager::reply_and_close(int status, std::string_view body) {
  http::HeaderMap h;
  h.add(":status", std::to_string(status));
  h.add("content-length", std::to_string(body.size()));
  h.add("content-type", "text/plain");
  h.add("connection", "close");
  std::string out;
  http::write_response_head(h, out);
  out += body;
  connection_.write(out);
  setup_.stats.by_class(static_cast<uint32_t>(status)).inc();
  connection_.close();
}

void HttpConnectionManager::on_headers(http::HeaderMap& headers, const http::MessageHead& head,
                                       bool end_stream) {
  idle_timer_.disarm();
  request_headers_timer_.disarm();
  StreamInfo info;
  info.stream_id = next_stream_id_++;
  info.connection_id = connection_.id();
  info.downstream_remote_address = peer_ip_;
  info.downstream_remote_port = peer_port_;
  info.downstream_local_address = local_ip_;
  info.downstream_local_port = local_port_;
  info.downstream_tls = connection_.tls_info();
  stream_ = std::make_unique<ActiveStream>(setup_, *this, std::move(info));
  ++requests_started_;
  const uint32_t max_requests = setup_.config.max_requests_per_connection;
  if (max_requests > 0 && requests_started_ >= max_requests) {
    // The last request this connection takes: its response says "connection: close".
    setup_.stats.downstream_cx_max_requests_reached.inc();
    stream_->close_connection_after_response();
  }
  stream_->on_request_headers(headers, head, end_stream);
}

void HttpConnectionManager::on_body(std::string_view data, bool end_stream) {
  if (stream_ && !stream_->finished()) stream_->on_request_body(data, end_stream);
}

void HttpConnectionManager::on_trailers(http::HeaderMap& trailers) {
  if (stream_ && !stream_->finished()) stream_->on_request_trailers(trailers);
}

void HttpConnectionManager::on_message_complete() {}

void HttpConnectionManager::write_downstream(std::string_view data) {
  if (!closed_) connection_.write(data);
}

void HttpConnectionManager::on_stream_finished(bool close_connection) {
  // We are inside the stream's own call: it goes once that returns.
  setup_.loop.defer_delete(std::move(stream_));
  if (closed_) return;
  if (read_disabled_ > 0) {
    // The stream undoes its pauses before it finishes; this only guards the next request.
    read_disabled_ = 0;
    connection_.set_reading(true);
  }
  if (close_connection || draining_ || tunnelling_) {
    connection_.close();
    return;
  }
  arm_idle_timer();
  // Go on with any pipelined request already buffered, after this callback unwinds.
  redeliver_later();
}

void HttpConnectionManager::read_disable_downstream(bool disable) {
  if (disable) {
    if (read_disabled_++ > 0) return;
    setup_.stats.downstream_flow_control_paused_reading_total.inc();
    connection_.set_reading(false);
    return;
  }
  if (read_disabled_ == 0 || --read_disabled_ > 0) return;
  setup_.stats.downstream_flow_control_resumed_reading_total.inc();
  connection_.set_reading(true);
  // What came while paused raised no new event (edge-triggered): read it now.
  redeliver_later();
}

bool HttpConnectionManager::downstream_above_high_watermark() const {
  return connection_.above_write_high_watermark();
}

void HttpConnectionManager::on_tunnel_established() {
  tunnelling_ = true;
  // Bytes the client sent right behind its upgrade request have waited for the 101.
  redeliver_later();
}

void HttpConnectionManager::on_above_write_high_watermark() {
  if (http2_) http2_->on_above_write_high_watermark();
  if (stream_) stream_->on_downstream_above_high_watermark();
}

void HttpConnectionManager::on_below_write_low_watermark() {
  if (http2_) http2_->on_below_write_low_watermark();
  if (stream_) stream_->on_downstream_below_low_watermark();
}

void HttpConnectionManager::on_write_drained() {
  if (http2_) http2_->on_write_drained();
}

void HttpConnectionManager::drain() {
  draining_ = true;
  if (http2_) {
    http2_->drain();
    return;
  }
  if (!stream_ && !closed_) connection_.close();
}

void HttpConnectionManager::on_close(bool by_peer, std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  idle_timer_.disarm();
  request_headers_timer_.disarm();
  if (http2_) http2_->on_close(by_peer ? "downstream closed" : reason);
  if (stream_) stream_->reset(by_peer ? "downstream closed" : reason);
  setup_.stats.downstream_cx_active.sub(1);
  if (tls_) setup_.stats.downstream_cx_ssl_active.sub(1);
  on_closed_(this);
}

}  // namespace weir::proxy
