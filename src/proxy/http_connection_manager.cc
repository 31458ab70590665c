#include "proxy/http_connection_manager.h"

#include <spdlog/spdlog.h>

#include "http/http1_writer.h"

namespace weir::proxy {

HttpConnectionManager::HttpConnectionManager(ConnectionManagerSetup& setup, int fd,
                                             const net::Address& peer, const net::Address& local,
                                             ClosedCallback on_closed)
    : setup_(setup),
      connection_(setup.loop, fd, false),
      parser_(http::MessageType::Request, *this),
      peer_(peer),
      local_(local),
      on_closed_(std::move(on_closed)) {
  connection_.set_handler(this);
  parser_.pause_after_message(true);
  setup_.stats.downstream_cx_total.inc();
  setup_.stats.downstream_cx_active.add(1);
  setup_.stats.listener_downstream_cx_total.inc();
  arm_idle_timer();
}

HttpConnectionManager::~HttpConnectionManager() {
  if (idle_timer_) setup_.loop.cancel_timer(idle_timer_);
  connection_.set_handler(nullptr);
}

void HttpConnectionManager::arm_idle_timer() {
  if (idle_timer_) setup_.loop.cancel_timer(idle_timer_);
  idle_timer_ = 0;
  auto timeout = setup_.config.idle_timeout;
  if (timeout.count() <= 0) return;
  idle_timer_ = setup_.loop.add_timer(timeout, [this] {
    idle_timer_ = 0;
    if (!stream_) connection_.close();
  });
}

void HttpConnectionManager::on_data(std::string& input) {
  if (closed_) return;
  // While a stream is answered, the next pipelined request waits in the buffer.
  if (stream_ && parser_.paused()) return;
  if (parser_.has_error()) {
    input.clear();
    return;
  }
  size_t used = parser_.feed(input);
  input.erase(0, used);
  if (parser_.has_error()) answer_protocol_error();
}

void HttpConnectionManager::answer_protocol_error() {
  setup_.stats.downstream_cx_protocol_error.inc();
  const auto& err = parser_.error();
  spdlog::debug("connection {}: bad request: {}", connection_.id(), err.reason);
  if (stream_) {
    stream_->reset(err.reason);
    if (!closed_) connection_.close();
    return;
  }
  // The parser's status (400, 413, 414, 431 or 501) with its reason phrase as the body.
  std::string body(http::reason_phrase(err.http_status));
  http::HeaderMap h;
  h.add(":status", std::to_string(err.http_status));
  h.add("content-length", std::to_string(body.size()));
  h.add("content-type", "text/plain");
  h.add("connection", "close");
  std::string out;
  http::write_response_head(h, out);
  out += body;
  connection_.write(out);
  setup_.stats.by_class(err.http_status).inc();
  connection_.close();
}

void HttpConnectionManager::on_headers(http::HeaderMap& headers, const http::MessageHead& head,
                                       bool end_stream) {
  if (idle_timer_) setup_.loop.cancel_timer(idle_timer_);
  idle_timer_ = 0;
  parser_.pause_after_message(true);
  StreamInfo info;
  info.stream_id = next_stream_id_++;
  info.connection_id = connection_.id();
  info.downstream_remote_address = peer_.ip();
  info.downstream_remote_port = peer_.port();
  info.downstream_local_address = local_.ip();
  info.downstream_local_port = local_.port();
  stream_ = std::make_unique<ActiveStream>(setup_, *this, std::move(info));
  stream_->on_request_headers(headers, head, end_stream);
}

void HttpConnectionManager::on_body(std::string_view data, bool end_stream) {
  if (stream_ && !stream_->finished()) stream_->on_request_body(data, end_stream);
}

void HttpConnectionManager::on_trailers(http::HeaderMap& trailers) {
  if (stream_ && !stream_->finished()) stream_->on_request_trailers(trailers);
}

void HttpConnectionManager::on_message_complete() {
  // Hold the next pipelined request until this one is answered; a stream answered
  // already (a local reply) leaves the parser free to go on.
  parser_.pause_after_message(stream_ != nullptr);
}

void HttpConnectionManager::write_downstream(std::string_view data) {
  if (!closed_) connection_.write(data);
}

void HttpConnectionManager::on_stream_finished(bool close_connection) {
  auto done = std::shared_ptr<ActiveStream>(stream_.release());
  setup_.loop.defer([done] {});
  if (closed_) return;
  if (close_connection || draining_) {
    connection_.close();
    return;
  }
  arm_idle_timer();
  // Go on with any pipelined request already buffered, after this callback unwinds.
  parser_.resume();
  setup_.loop.defer([this, id = connection_.id()] {
    (void)id;
    if (!closed_) connection_.redeliver();
  });
}

void HttpConnectionManager::drain() {
  draining_ = true;
  if (!stream_ && !closed_) connection_.close();
}

void HttpConnectionManager::on_close(bool by_peer, std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  if (stream_) stream_->reset(by_peer ? "downstream closed" : reason);
  setup_.stats.downstream_cx_active.sub(1);
  on_closed_(this);
}

}  // namespace weir::proxy
