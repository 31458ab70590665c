#include "proxy/upstream_http2_request.h"

#include "http/http1_writer.h"
#include "proxy/cluster_manager.h"
#include "proxy/upstream_pool.h"

namespace weir::proxy {

Http2UpstreamRequest::Http2UpstreamRequest(UpstreamPool& pool, Callbacks& callbacks,
                                           event::EventLoop& loop)
    : pool_(pool), callbacks_(callbacks), loop_(loop) {}

Http2UpstreamRequest::~Http2UpstreamRequest() {
  if (alive_) *alive_ = false;
  abort();
}

std::shared_ptr<bool> Http2UpstreamRequest::alive() {
  if (!alive_) alive_ = std::make_shared<bool>(true);
  return alive_;
}

void Http2UpstreamRequest::fail_later(UpstreamFailure kind, std::string reason) {
  if (done_) return;
  done_ = true;
  if (connection_ && stream_ >= 0) connection_->reset_stream(stream_);
  connection_ = nullptr;
  loop_.defer([this, kind, reason = std::move(reason), alive = alive()] {
    if (*alive) callbacks_.on_upstream_failure(kind, reason);
  });
}

void Http2UpstreamRequest::start(bool) {
  // nghttp2 knows a HEAD response has no body from the request's :method.
  auto picked = pool_.http2().pick();
  if (!picked) {
    fail_later(UpstreamFailure::ConnectFailure, picked.error());
    return;
  }
  connection_ = *picked;
}

void Http2UpstreamRequest::send_headers(const http::HeaderMap& headers, BodyFraming,
                                        bool end_stream) {
  if (done_ || !connection_) return;
  if (upgrade_requested_) {
    // An upgrade (WebSocket) would need extended CONNECT (RFC 8441) upstream.
    fail_later(UpstreamFailure::ProtocolError, "upgrade requests cannot go to an HTTP/2 upstream");
    return;
  }
  http::HeaderMap out = headers;
  http::strip_hop_by_hop_headers(out);
  out.set(":scheme", pool_.cluster().tls ? "https" : "http");
  stream_ = connection_->start_stream(*this, out, end_stream);
  if (stream_ < 0) {
    fail_later(UpstreamFailure::ConnectFailure, "no HTTP/2 stream could be opened");
  }
}

void Http2UpstreamRequest::write_head_buffer(BodyFraming, bool) {
  fail_later(UpstreamFailure::ProtocolError, "an HTTP/1 head cannot go to an HTTP/2 upstream");
}

void Http2UpstreamRequest::send_body(std::string_view data, bool end_stream) {
  if (done_ || !connection_ || stream_ < 0) return;
  connection_->send_data(stream_, data, end_stream);
}

void Http2UpstreamRequest::send_trailers(const http::HeaderMap& trailers) {
  if (done_ || !connection_ || stream_ < 0) return;
  connection_->send_trailers(stream_, trailers);
}

void Http2UpstreamRequest::abort() {
  if (done_) return;
  done_ = true;
  if (connection_ && stream_ >= 0) {
    // Held bytes still count against the connection's window: give them back.
    connection_->consume(stream_, held_.size());
    connection_->reset_stream(stream_);
  }
  connection_ = nullptr;
}

void Http2UpstreamRequest::read_disable(bool disable) {
  auto& stats = *pool_.cluster().stats;
  if (disable) {
    if (read_disabled_++ == 0) stats.upstream_flow_control_paused_reading_total.inc();
    return;
  }
  if (read_disabled_ == 0 || --read_disabled_ > 0) return;
  stats.upstream_flow_control_resumed_reading_total.inc();
  // What came while paused goes on after the caller's callback returns.
  loop_.defer([this, alive = alive()] {
    if (*alive) deliver_held();
  });
}

void Http2UpstreamRequest::deliver_held() {
  if (read_disabled_ > 0 || done_) return;
  if (!held_.empty() || held_end_) {
    std::string data = std::move(held_);
    held_.clear();
    const bool end = held_end_;
    held_end_ = false;
    if (connection_) connection_->consume(stream_, data.size());
    auto alive_now = alive();
    callbacks_.on_upstream_body(data, end);
    if (!*alive_now || done_ || read_disabled_ > 0) return;
  }
  if (held_trailers_) {
    held_trailers_ = false;
    auto alive_now = alive();
    callbacks_.on_upstream_trailers(held_trailer_map_);
    if (!*alive_now || done_) return;
  }
  if (held_complete_) {
    held_complete_ = false;
    done_ = true;
    connection_ = nullptr;
    callbacks_.on_upstream_complete();
  }
}

void Http2UpstreamRequest::on_stream_connected(std::string_view endpoint,
                                               const net::tls::TlsInfo* tls) {
  if (!done_) callbacks_.on_upstream_connected(endpoint, tls);
}

void Http2UpstreamRequest::on_stream_headers(http::HeaderMap& headers, bool end_stream) {
  if (done_) return;
  http::MessageHead head;
  head.http_major = 2;
  head.http_minor = 0;
  callbacks_.on_upstream_headers(headers, head, end_stream);
}

void Http2UpstreamRequest::on_stream_data(std::string_view data, bool end_stream) {
  if (done_) return;
  if (read_disabled_ > 0 || !held_.empty() || held_end_) {
    // Not consumed: the upstream's window for this stream shrinks by as much.
    held_.append(data);
    held_end_ = held_end_ || end_stream;
    return;
  }
  connection_->consume(stream_, data.size());
  callbacks_.on_upstream_body(data, end_stream);
}

void Http2UpstreamRequest::on_stream_trailers(http::HeaderMap& trailers) {
  if (done_) return;
  if (read_disabled_ > 0 || !held_.empty() || held_end_) {
    held_trailers_ = true;
    held_trailer_map_ = std::move(trailers);
    return;
  }
  callbacks_.on_upstream_trailers(trailers);
}

void Http2UpstreamRequest::on_stream_complete() {
  if (done_) return;
  if (read_disabled_ > 0 || !held_.empty() || held_end_ || held_trailers_) {
    held_complete_ = true;
    return;
  }
  done_ = true;
  connection_ = nullptr;
  callbacks_.on_upstream_complete();
}

void Http2UpstreamRequest::on_stream_reset(UpstreamFailure kind, std::string_view reason) {
  if (done_) return;
  done_ = true;
  connection_ = nullptr;
  if (kind == UpstreamFailure::ProtocolError) {
    pool_.cluster().stats->upstream_cx_protocol_error.inc();
  }
  callbacks_.on_upstream_failure(kind, reason);
}

void Http2UpstreamRequest::on_stream_send_high() {
  pool_.cluster().stats->upstream_flow_control_backed_up_total.inc();
  callbacks_.on_upstream_above_write_high_watermark();
}

void Http2UpstreamRequest::on_stream_send_low() {
  pool_.cluster().stats->upstream_flow_control_drained_total.inc();
  callbacks_.on_upstream_below_write_low_watermark();
}

}  // namespace weir::proxy
