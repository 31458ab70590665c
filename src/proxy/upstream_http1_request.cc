#include "proxy/upstream_http1_request.h"

#include "common/string_pool.h"
#include "http/http1_writer.h"
#include "proxy/cluster_manager.h"

namespace weir::proxy {

Http1UpstreamRequest::Http1UpstreamRequest(UpstreamPool& pool, Callbacks& callbacks,
                                           event::EventLoop& loop)
    : pool_(pool), callbacks_(callbacks), loop_(loop) {}

Http1UpstreamRequest::~Http1UpstreamRequest() {
  if (alive_) *alive_ = false;
  if (parser_) pool_.recycle_response_parser(std::move(parser_));
  if (connect_timer_) loop_.cancel_timer(connect_timer_);
  if (lease_.connection) {
    lease_.connection->set_handler(nullptr);
    if (lease_.connection->is_open()) lease_.connection->close(true);
    pool_.connection_closed();
  }
  give_back_pooled_string(std::move(sent_copy_));
}

std::shared_ptr<bool> Http1UpstreamRequest::alive() {
  if (!alive_) alive_ = std::make_shared<bool>(true);
  return alive_;
}

void Http1UpstreamRequest::start(bool head_request) {
  head_request_ = head_request;
  connect(false);
}

void Http1UpstreamRequest::connect(bool fresh) {
  if (parser_) pool_.recycle_response_parser(std::move(parser_));
  parser_ = pool_.take_response_parser(*this);
  parser_->expect_no_body(head_request_);
  auto lease = pool_.acquire(fresh);
  if (!lease) {
    const std::string& why = lease.error();
    // Deferred: the caller is still setting the request up.
    loop_.defer([this, why, alive = alive()] {
      if (*alive) fail(UpstreamFailure::ConnectFailure, why);
    });
    return;
  }
  lease_ = std::move(*lease);
  if (!lease_.reused) pool_.cluster().stats->upstream_cx_http1_total.inc();
  connected_ = false;
  lease_.connection->set_handler(this);
  if (read_disabled_ > 0) lease_.connection->set_reading(false);
  if (lease_.connection->connecting()) {
    auto timeout = pool_.cluster().config.connect_timeout;
    connect_timer_ = loop_.add_timer(timeout, [this] {
      connect_timer_ = 0;
      pool_.cluster().stats->upstream_cx_connect_fail.inc();
      fail(UpstreamFailure::ConnectFailure, "connect timeout");
    });
  } else {
    connected_ = true;
    callbacks_.on_upstream_connected(lease_.endpoint, lease_.connection->tls_info());
  }
}

void Http1UpstreamRequest::on_connected() {
  connected_ = true;
  if (connect_timer_) loop_.cancel_timer(connect_timer_);
  connect_timer_ = 0;
  callbacks_.on_upstream_connected(lease_.endpoint, lease_.connection->tls_info());
}

void Http1UpstreamRequest::write(std::string_view data) {
  if (copy_valid_) {
    if (sent_copy_.size() + data.size() <= kRetryCopyLimit) {
      sent_copy_.append(data);
    } else {
      copy_valid_ = false;
      sent_copy_.clear();
    }
  }
  if (lease_.connection) lease_.connection->write(data);
}

void Http1UpstreamRequest::send_headers(const http::HeaderMap& headers, BodyFraming framing,
                                        bool end_stream) {
  send_head([&](std::string& out) { http::write_request_head(headers, out); }, framing, end_stream);
}

std::string& Http1UpstreamRequest::head_buffer() {
  // The head is the first thing sent: the retry copy is empty and valid here.
  if (sent_copy_.capacity() == std::string().capacity()) sent_copy_ = take_pooled_string();
  sent_copy_.clear();
  copy_valid_ = true;
  return sent_copy_;
}

void Http1UpstreamRequest::write_head_buffer(BodyFraming framing, bool end_stream) {
  framing_ = framing;
  if (end_stream) request_complete_ = true;
  if (sent_copy_.size() > kRetryCopyLimit) {
    copy_valid_ = false;
    if (lease_.connection) lease_.connection->write(sent_copy_);
    sent_copy_.clear();
    return;
  }
  if (lease_.connection) lease_.connection->write(sent_copy_);
}

void Http1UpstreamRequest::send_body(std::string_view data, bool end_stream) {
  std::string out;
  if (framing_ == BodyFraming::Chunked) {
    http::write_chunk(data, out);
    if (end_stream) http::write_last_chunk(nullptr, out);
    write(out);
  } else if (!data.empty()) {
    write(data);
  }
  if (end_stream) request_complete_ = true;
}

void Http1UpstreamRequest::send_trailers(const http::HeaderMap& trailers) {
  std::string out;
  if (framing_ == BodyFraming::Chunked) http::write_last_chunk(&trailers, out);
  write(out);
  request_complete_ = true;
}

void Http1UpstreamRequest::abort() {
  done_ = true;
  aborted_ = true;
  finish_connection(false);
}

void Http1UpstreamRequest::read_disable(bool disable) {
  auto& stats = *pool_.cluster().stats;
  if (disable) {
    if (read_disabled_++ > 0) return;
    stats.upstream_flow_control_paused_reading_total.inc();
    if (lease_.connection) lease_.connection->set_reading(false);
    return;
  }
  if (read_disabled_ == 0 || --read_disabled_ > 0) return;
  stats.upstream_flow_control_resumed_reading_total.inc();
  if (!lease_.connection) return;
  lease_.connection->set_reading(true);
  // Events that came while paused are not raised again (edge-triggered): read what is
  // buffered and waiting, outside the callback that resumed us.
  loop_.defer([this, alive = alive()] {
    if (*alive && read_disabled_ == 0 && lease_.connection) lease_.connection->redeliver();
  });
}

void Http1UpstreamRequest::on_above_write_high_watermark() {
  pool_.cluster().stats->upstream_flow_control_backed_up_total.inc();
  callbacks_.on_upstream_above_write_high_watermark();
}

void Http1UpstreamRequest::on_below_write_low_watermark() {
  pool_.cluster().stats->upstream_flow_control_drained_total.inc();
  callbacks_.on_upstream_below_write_low_watermark();
}

void Http1UpstreamRequest::on_data(std::string& input) {
  if (!tunnelling_) {
    size_t used = parser_->feed(input);
    input.erase(0, used);
    if (parser_->has_error() && !done_) {
      protocol_error(parser_->error().reason);
      return;
    }
    if (response_complete_) {
      // Bytes past the end of the response mean the two sides no longer agree on where
      // messages start: such a connection is not reused.
      report_complete(input.empty());
      return;
    }
    if (!tunnelling_ || done_) return;
  }
  // Tunnel: whatever follows the 101 belongs to the upgraded protocol and is relayed as
  // it is.
  if (!input.empty() && !done_) {
    callbacks_.on_upstream_body(input, false);
    input.clear();
  }
}

void Http1UpstreamRequest::on_close(bool by_peer, std::string_view reason) {
  if (done_) return;
  if (tunnelling_) {
    // The upstream ended the tunnel: that ends the stream (the client side closes too).
    done_ = true;
    finish_connection(false);
    callbacks_.on_upstream_body({}, true);
    if (!aborted_) callbacks_.on_upstream_complete();
    return;
  }
  if (!response_started_ && lease_.reused && !retried_ && copy_valid_ && !response_complete_) {
    // The upstream closed a pooled connection as we reused it: try once more, fresh.
    retried_ = true;
    lease_.connection->set_handler(nullptr);
    loop_.defer_delete(std::move(lease_.connection));
    pool_.connection_closed();
    std::string replay = std::move(sent_copy_);
    sent_copy_.clear();
    connect(true);
    if (lease_.connection) lease_.connection->write(replay);
    sent_copy_ = std::move(replay);
    return;
  }
  if (!connected_) pool_.cluster().stats->upstream_cx_connect_fail.inc();
  if (response_started_ && !response_complete_) {
    parser_->feed_eof();  // completes a close-delimited response
    if (response_complete_) {
      report_complete(false);
      return;
    }
    if (parser_->has_error() && !done_) {
      protocol_error(parser_->error().reason);
      return;
    }
    if (done_) return;
  }
  fail(response_started_ ? UpstreamFailure::Reset : UpstreamFailure::ConnectFailure,
       by_peer ? "upstream connection closed" : reason);
}

void Http1UpstreamRequest::protocol_error(std::string_view reason) {
  pool_.cluster().stats->upstream_cx_protocol_error.inc();
  fail(UpstreamFailure::ProtocolError, reason);
}

void Http1UpstreamRequest::fail(UpstreamFailure kind, std::string_view reason) {
  if (done_) return;
  done_ = true;
  finish_connection(false);
  callbacks_.on_upstream_failure(kind, reason);
}

void Http1UpstreamRequest::report_complete(bool nothing_follows) {
  if (completion_reported_ || aborted_) return;
  completion_reported_ = true;
  // An upgrade the upstream declined could leave it expecting the other protocol (or
  // the request's body in it): not worth the doubt.
  const bool reusable = nothing_follows && response_keep_alive_ && request_complete_ &&
                        !upgrade_requested_ && lease_.connection &&
                        lease_.connection->pending_output() == 0;
  finish_connection(reusable);
  callbacks_.on_upstream_complete();
}

void Http1UpstreamRequest::finish_connection(bool reusable) {
  if (connect_timer_) loop_.cancel_timer(connect_timer_);
  connect_timer_ = 0;
  if (!lease_.connection) return;
  if (reusable && lease_.connection->is_open()) {
    lease_.connection->set_handler(nullptr);
    pool_.release(std::move(lease_));
    lease_ = {};
    return;
  }
  lease_.connection->set_handler(nullptr);
  // We may be inside this connection's own callback: close now, free later.
  lease_.connection->close(true);
  loop_.defer_delete(std::move(lease_.connection));
  pool_.connection_closed();
}

void Http1UpstreamRequest::on_headers(http::HeaderMap& headers, const http::MessageHead& head,
                                      bool end_stream) {
  if (done_) return;
  auto status = headers.get(http::KnownHeader::kStatus).value_or("0");
  if (status == "101") {
    // Switching protocols is only for a request that asked (and was allowed) to.
    if (!upgrade_requested_) {
      protocol_error("unsolicited 101 switching protocols");
      return;
    }
    tunnelling_ = true;
    response_started_ = true;
    response_keep_alive_ = false;
    callbacks_.on_upstream_headers(headers, head, false);
    return;
  }
  if (status.size() == 3 && status[0] == '1') return;  // other 1xx: not forwarded
  response_started_ = true;
  response_keep_alive_ = head.keep_alive;
  callbacks_.on_upstream_headers(headers, head, end_stream);
}

void Http1UpstreamRequest::on_body(std::string_view data, bool end_stream) {
  if (done_) return;
  callbacks_.on_upstream_body(data, end_stream);
}

void Http1UpstreamRequest::on_trailers(http::HeaderMap& trailers) {
  if (done_) return;
  callbacks_.on_upstream_trailers(trailers);
}

void Http1UpstreamRequest::on_message_complete() {
  if (done_ || !response_started_) return;  // a 1xx ended
  if (tunnelling_) return;                  // the tunnel lasts until a side closes
  response_complete_ = true;
  done_ = true;
  // Stop right after this response: what follows (if anything) is checked, not parsed.
  parser_->pause_after_message(true);
}

}  // namespace weir::proxy
