#include "proxy/http2_connection_manager.h"

#include <spdlog/spdlog.h>

namespace weir::proxy {

http::Http2Options http2_options(const config::HttpConnectionManagerConfig& config) {
  const config::Http2ProtocolOptions& o = config.http2_protocol_options;
  http::Http2Options options;
  options.max_concurrent_streams = o.max_concurrent_streams;
  options.initial_stream_window_size = o.initial_stream_window_size;
  options.initial_connection_window_size = o.initial_connection_window_size;
  options.hpack_table_size = o.hpack_table_size;
  options.max_outbound_frames = o.max_outbound_frames;
  options.max_outbound_control_frames = o.max_outbound_control_frames;
  options.max_consecutive_inbound_frames_with_empty_payload =
      o.max_consecutive_inbound_frames_with_empty_payload;
  options.max_inbound_priority_frames_per_stream = o.max_inbound_priority_frames_per_stream;
  options.max_inbound_window_update_frames_per_data_frame_sent =
      o.max_inbound_window_update_frames_per_data_frame_sent;
  options.max_header_bytes = static_cast<size_t>(config.max_request_headers_kb) * 1024;
  options.max_headers = config.max_headers_count;
  return options;
}

// One HTTP/2 stream: the downstream side its ActiveStream writes to.
class Http2ConnectionManager::Stream : public StreamOwner {
 public:
  Stream(Http2ConnectionManager& manager, int32_t id) : manager_(manager), id_(id) {}

  // StreamOwner
  void write_downstream(std::string_view) override {}  // never: responses are framed
  void on_stream_finished(bool) override { manager_.stream_finished(*this); }
  void read_disable_downstream(bool disable) override {
    if (disable) {
      if (read_disabled_++ == 0) {
        manager_.setup_.stats.downstream_flow_control_paused_reading_total.inc();
      }
      return;
    }
    if (read_disabled_ == 0 || --read_disabled_ > 0) return;
    manager_.setup_.stats.downstream_flow_control_resumed_reading_total.inc();
    if (!held_data_.empty() || held_end_ || held_trailers_) manager_.redeliver_call_.schedule();
  }
  bool downstream_above_high_watermark() const override { return above_high_; }
  void on_tunnel_established() override {}  // no upgrades over HTTP/2
  bool frames_responses() const override { return true; }
  void send_response_headers(const http::HeaderMap& headers, bool end_stream) override {
    response_ended_ = end_stream;
    manager_.codec_.send_headers(id_, headers, end_stream);
    manager_.schedule_flush();
  }
  void send_response_data(std::string_view data, bool end_stream) override {
    if (response_ended_) return;
    response_ended_ = end_stream;
    manager_.codec_.send_data(id_, data, end_stream);
    manager_.schedule_flush();
  }
  void send_response_trailers(const http::HeaderMap& trailers) override {
    if (response_ended_) return;
    response_ended_ = true;
    manager_.codec_.send_trailers(id_, trailers);
    manager_.schedule_flush();
  }

  // Request events from the codec: passed on, or held while the stream reads no more.
  void request_data(std::string_view data, bool end_stream) {
    if (read_disabled_ > 0 || !held_data_.empty()) {
      held_data_.append(data);
      held_end_ = held_end_ || end_stream;
      return;
    }
    deliver(data, end_stream);
  }
  void request_trailers(http::HeaderMap& trailers) {
    if (read_disabled_ > 0 || !held_data_.empty() || held_end_) {
      held_trailers_ = std::move(trailers);
      return;
    }
    request_ended_ = true;
    if (active_ && !active_->finished()) active_->on_request_trailers(trailers);
  }
  // What was held while paused, once reading resumes.
  void redeliver() {
    if (read_disabled_ > 0 || !active_ || active_->finished()) return;
    std::string data = std::move(held_data_);
    held_data_.clear();
    const bool end = held_end_;
    held_end_ = false;
    if (!data.empty() || end) deliver(data, end);
    if (held_trailers_ && read_disabled_ == 0 && active_ && !active_->finished()) {
      http::HeaderMap trailers = std::move(*held_trailers_);
      held_trailers_.reset();
      request_ended_ = true;
      active_->on_request_trailers(trailers);
    }
  }
  void set_above_high(bool stream_high, bool connection_high) {
    stream_high_ = stream_high;
    const bool above = stream_high_ || connection_high;
    if (above == above_high_) return;
    above_high_ = above;
    if (!active_ || active_->finished()) return;
    if (above) {
      active_->on_downstream_above_high_watermark();
    } else {
      active_->on_downstream_below_low_watermark();
    }
  }
  bool stream_high() const { return stream_high_; }
  // Request data held while paused and never passed on (the stream ended first): returned
  // to the client's connection window, or it would shrink for good.
  size_t drop_held() {
    const size_t n = held_data_.size();
    held_data_.clear();
    held_data_.shrink_to_fit();
    return n;
  }

  int32_t id() const { return id_; }
  std::unique_ptr<ActiveStream> active_;
  bool request_ended_ = false;
  bool response_ended_ = false;
  bool finished_ = false;

 private:
  void deliver(std::string_view data, bool end_stream) {
    if (end_stream) request_ended_ = true;
    // Flow control: the client may send as much again once this is processed.
    manager_.codec_.consume(id_, data.size());
    if (active_ && !active_->finished()) active_->on_request_body(data, end_stream);
  }

  Http2ConnectionManager& manager_;
  const int32_t id_;
  uint32_t read_disabled_ = 0;
  std::string held_data_;
  bool held_end_ = false;
  std::optional<http::HeaderMap> held_trailers_;
  bool stream_high_ = false;
  bool above_high_ = false;
};

Http2ConnectionManager::Http2ConnectionManager(ConnectionManagerSetup& setup,
                                               net::Connection& connection,
                                               StreamInfo connection_info)
    : setup_(setup),
      connection_(connection),
      connection_info_(std::move(connection_info)),
      codec_(*this, http2_options(setup.config)),
      flush_call_(setup.loop, [this] { flush(); }),
      redeliver_call_(setup.loop, [this] { redeliver_held(); }),
      idle_timer_(setup.loop, [this] { on_idle_timeout(); }),
      request_headers_timer_(setup.loop, [this] { on_request_headers_timeout(); }) {
  setup_.stats.downstream_cx_http2_total.inc();
  setup_.stats.downstream_cx_http2_active.add(1);
  const size_t limit = setup_.config.per_connection_buffer_limit_bytes;
  codec_.set_send_watermarks(limit, limit / 2);
  codec_.start();
  if (setup_.draining && *setup_.draining) codec_.goaway();
  flush();
  arm_idle_timer();
}

Http2ConnectionManager::~Http2ConnectionManager() {
  // Streams still here (a worker's teardown) go without a response, as HTTP/1's do.
  if (!closed_) setup_.stats.downstream_cx_http2_active.sub(1);
}

Http2ConnectionManager::Stream* Http2ConnectionManager::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2ConnectionManager::arm_idle_timer() {
  auto timeout = setup_.config.idle_timeout;
  if (timeout.count() > 0 && streams_.empty()) idle_timer_.arm(timeout);
}

void Http2ConnectionManager::on_idle_timeout() {
  if (!streams_.empty() || closed_) return;
  setup_.stats.downstream_cx_idle_timeout.inc();
  codec_.goaway();
  flush();
  connection_.close();
}

void Http2ConnectionManager::write(std::string_view bytes) {
  if (!closed_) connection_.write(bytes);
}

void Http2ConnectionManager::flush() {
  if (closed_) return;
  flush_call_.cancel();
  // A client that does not read gets no more frames: they wait in the codec (its
  // streams' buffers pause their upstreams; control frames are bounded there).
  if (connection_above_high_) return;
  const bool more = codec_.flush();
  if (connection_.pending_output() == 0) codec_.note_output_drained();
  if (!more || (going_away_ && streams_.empty() && codec_.open_streams() == 0)) {
    connection_.close();
  }
}

void Http2ConnectionManager::on_data(std::string& input) {
  if (closed_) {
    input.clear();
    return;
  }
  const bool ok = codec_.feed(input);
  input.clear();
  if (!ok) {
    // A connection error: the GOAWAY is queued; send it and close.
    setup_.stats.downstream_cx_protocol_error.inc();
    connection_above_high_ = false;  // the GOAWAY goes out whatever the client reads
    codec_.flush();
    connection_.close();
    return;
  }
  // request_headers_timeout bounds each header block, as it bounds an HTTP/1 head: a
  // client that starts HEADERS and never ends it holds the whole connection (RFC 9113 lets
  // no other frame in between).
  const auto timeout = setup_.config.request_headers_timeout;
  if (!codec_.receiving_headers()) {
    request_headers_timer_.disarm();
  } else if (timeout.count() > 0 && !request_headers_timer_.armed()) {
    request_headers_timer_.arm(timeout);
  }
  flush();
}

void Http2ConnectionManager::on_request_headers_timeout() {
  if (closed_ || !codec_.receiving_headers()) return;
  setup_.stats.downstream_rq_header_timeout.inc();
  codec_.goaway();
  connection_above_high_ = false;  // the GOAWAY goes out whatever the client reads
  codec_.flush();
  connection_.close();
}

void Http2ConnectionManager::on_request_headers(int32_t id, http::HeaderMap& headers,
                                                bool end_stream) {
  idle_timer_.disarm();
  auto stream = std::make_unique<Stream>(*this, id);
  Stream& s = *stream;
  streams_.emplace(id, std::move(stream));
  StreamInfo info = connection_info_;
  info.stream_id = next_stream_id_++;
  s.active_ = std::make_unique<ActiveStream>(setup_, s, std::move(info));
  if (end_stream) s.request_ended_ = true;
  if (auto expect = headers.get(http::KnownHeader::kExpect);
      expect && http::iequals(*expect, "100-continue")) {
    // Answered here, as the HTTP/1 side answers it; the upstream never sees it.
    headers.remove(http::KnownHeader::kExpect);
    if (!end_stream) {
      http::HeaderMap continue_headers;
      continue_headers.add_lower_case(":status", "100");
      codec_.send_informational(id, continue_headers);
    }
  }
  ++requests_started_;
  const uint32_t max_requests = setup_.config.max_requests_per_connection;
  if (max_requests > 0 && requests_started_ >= max_requests && !going_away_) {
    // As Envoy: the connection takes no more streams (GOAWAY); this one is served.
    setup_.stats.downstream_cx_max_requests_reached.inc();
    going_away_ = true;
    codec_.goaway();
  }
  if (connection_above_high_) s.set_above_high(false, true);
  http::MessageHead head;
  head.http_major = 2;
  head.http_minor = 0;
  // CONNECT is refused by the stream as over HTTP/1 (no tunnels yet).
  head.upgrade = headers.get(http::KnownHeader::kMethod) == "CONNECT";
  head.has_content_length = headers.get(http::KnownHeader::kContentLength).has_value();
  s.active_->on_request_headers(headers, head, end_stream);
  schedule_flush();
}

void Http2ConnectionManager::on_request_data(int32_t id, std::string_view data, bool end_stream) {
  Stream* s = find(id);
  if (!s || s->finished_) {
    codec_.consume(id, data.size());
    return;
  }
  s->request_data(data, end_stream);
}

void Http2ConnectionManager::on_request_trailers(int32_t id, http::HeaderMap& trailers) {
  Stream* s = find(id);
  if (s && !s->finished_) s->request_trailers(trailers);
}

void Http2ConnectionManager::redeliver_held() {
  std::vector<int32_t> ids;
  ids.reserve(streams_.size());
  for (auto& [id, _] : streams_) ids.push_back(id);
  for (int32_t id : ids) {
    if (Stream* s = find(id); s && !s->finished_) s->redeliver();
  }
  schedule_flush();
}

void Http2ConnectionManager::on_stream_reset(int32_t id, http::Http2ErrorCode code) {
  Stream* s = find(id);
  if (!s || s->finished_) return;
  spdlog::debug("connection {}: stream {} reset (error {})", connection_.id(), id,
                static_cast<uint32_t>(code));
  s->finished_ = true;  // the codec's stream is gone: nothing more to send on it
  s->active_->reset("downstream reset");
}

void Http2ConnectionManager::on_stream_complete(int32_t id) {
  (void)id;  // its ActiveStream finished when its response was handed over
}

void Http2ConnectionManager::stream_finished(Stream& s) {
  const int32_t id = s.id();
  codec_.consume(id, s.drop_held());
  if (!s.finished_) {
    s.finished_ = true;
    if (!s.response_ended_) {
      // The response broke off (upstream reset, timeout after the headers): the client
      // must not take what it got for a whole response.
      codec_.reset_stream(id, http::Http2ErrorCode::kInternalError);
    } else if (!s.request_ended_) {
      // Answered before the request ended (a local reply): the rest is not wanted.
      codec_.reset_stream(id, http::Http2ErrorCode::kNoError);
    }
  }
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  // We are inside the ActiveStream's own call: both go once it returns.
  setup_.loop.defer_delete(std::move(it->second));
  streams_.erase(it);
  schedule_flush();
  if (streams_.empty()) arm_idle_timer();
}

void Http2ConnectionManager::on_send_buffer_high(int32_t id) {
  if (Stream* s = find(id)) s->set_above_high(true, connection_above_high_);
}

void Http2ConnectionManager::on_send_buffer_low(int32_t id) {
  if (Stream* s = find(id)) s->set_above_high(false, connection_above_high_);
}

void Http2ConnectionManager::on_above_write_high_watermark() {
  connection_above_high_ = true;
  for (auto& [id, s] : streams_) s->set_above_high(s->stream_high(), true);
}

void Http2ConnectionManager::on_below_write_low_watermark() {
  connection_above_high_ = false;
  std::vector<int32_t> ids;
  for (auto& [id, _] : streams_) ids.push_back(id);
  for (int32_t id : ids) {
    if (Stream* s = find(id)) s->set_above_high(s->stream_high(), false);
  }
  schedule_flush();
}

void Http2ConnectionManager::on_event(http::Http2Event event) {
  auto& st = setup_.stats;
  switch (event) {
    case http::Http2Event::kRxReset:
      st.http2_rx_reset.inc();
      break;
    case http::Http2Event::kTxReset:
      st.http2_tx_reset.inc();
      break;
    case http::Http2Event::kHeaderOverflow:
      st.http2_header_overflow.inc();
      break;
    case http::Http2Event::kRxMessagingError:
      st.http2_rx_messaging_error.inc();
      break;
    case http::Http2Event::kOutboundFlood:
      st.http2_outbound_flood.inc();
      break;
    case http::Http2Event::kOutboundControlFlood:
      st.http2_outbound_control_flood.inc();
      break;
    case http::Http2Event::kInboundEmptyFramesFlood:
      st.http2_inbound_empty_frames_flood.inc();
      break;
    case http::Http2Event::kInboundPriorityFramesFlood:
      st.http2_inbound_priority_frames_flood.inc();
      break;
    case http::Http2Event::kInboundWindowUpdateFramesFlood:
      st.http2_inbound_window_update_frames_flood.inc();
      break;
    case http::Http2Event::kPrematureResets:
      st.downstream_rq_too_many_premature_resets.inc();
      break;
    case http::Http2Event::kGoawaySent:
      st.http2_goaway_sent.inc();
      break;
    case http::Http2Event::kProtocolError:
      break;
  }
}

void Http2ConnectionManager::drain() {
  if (closed_) return;
  going_away_ = true;
  codec_.goaway();
  flush();
  if (streams_.empty() && !closed_) connection_.close();
}

void Http2ConnectionManager::on_close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  idle_timer_.disarm();
  flush_call_.cancel();
  redeliver_call_.cancel();
  setup_.stats.downstream_cx_http2_active.sub(1);
  std::vector<int32_t> ids;
  for (auto& [id, _] : streams_) ids.push_back(id);
  for (int32_t id : ids) {
    Stream* s = find(id);
    if (!s || s->finished_) continue;
    s->finished_ = true;
    s->active_->reset(reason);
  }
}

}  // namespace weir::proxy
