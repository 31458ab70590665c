#include "proxy/upstream_http2_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "proxy/cluster_manager.h"
#include "proxy/upstream_pool.h"

namespace weir::proxy {

namespace {

http::Http2Options client_options(const config::ClusterConfig& c) {
  const config::Http2ProtocolOptions& o = c.http2_protocol_options;
  http::Http2Options options;
  options.initial_stream_window_size = o.initial_stream_window_size;
  options.initial_connection_window_size = o.initial_connection_window_size;
  options.hpack_table_size = o.hpack_table_size;
  options.max_outbound_control_frames = o.max_outbound_control_frames;
  // Response heads are bounded as the HTTP/1 parser bounds them (Envoy's 60 KiB, 100).
  return options;
}

}  // namespace

// ---------------------------------------------------------------- connection

Http2UpstreamConnection::Http2UpstreamConnection(Http2UpstreamPool& pool,
                                                 std::unique_ptr<net::Connection> connection,
                                                 std::string endpoint)
    : pool_(pool),
      connection_(std::move(connection)),
      endpoint_(std::move(endpoint)),
      codec_(*this, pool.options()),
      connect_timer_(pool.loop(),
                     [this] {
                       pool_.cluster().stats->upstream_cx_connect_fail.inc();
                       close("connect timeout", UpstreamFailure::ConnectFailure);
                     }),
      idle_timer_(pool.loop(),
                  [this] {
                    codec_.goaway();
                    flush_now();
                    // Counted after the close, so whoever sees the count sees the
                    // connection gone from upstream_cx_active too.
                    const Cluster& cluster = pool_.cluster();
                    close("idle timeout", UpstreamFailure::Reset);
                    cluster.stats->upstream_cx_idle_timeout.inc();
                  }),
      flush_call_(pool.loop(), [this] { flush_now(); }) {
  // Per-stream request data above the buffer limit pushes back on its sender.
  const size_t limit = pool.cluster().config.per_connection_buffer_limit_bytes;
  codec_.set_send_watermarks(limit, limit / 2);
  connection_->set_handler(this);
  codec_.start();
  if (connection_->connecting()) {
    connect_timer_.arm(pool.cluster().config.connect_timeout);
  } else {
    connected_ = true;
  }
  schedule_flush();
}

Http2UpstreamConnection::~Http2UpstreamConnection() {
  if (connection_) {
    connection_->set_handler(nullptr);
    if (connection_->is_open()) connection_->close(true);
  }
}

bool Http2UpstreamConnection::has_room() const {
  const uint32_t limit =
      std::min(pool_.max_concurrent_streams(), codec_.peer_max_concurrent_streams());
  return usable() && streams_.size() < limit;
}

Http2StreamHandler* Http2UpstreamConnection::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

int32_t Http2UpstreamConnection::start_stream(Http2StreamHandler& handler,
                                              const http::HeaderMap& headers, bool end_stream) {
  if (!usable()) return -1;
  const int32_t id = codec_.submit_request(headers, end_stream);
  if (id < 0) return -1;
  streams_[id] = &handler;
  unannounced_.push_back(id);
  idle_timer_.disarm();
  schedule_flush();
  return id;
}

void Http2UpstreamConnection::send_data(int32_t id, std::string_view data, bool end_stream) {
  if (closed_) return;
  codec_.send_data(id, data, end_stream);
  schedule_flush();
}

void Http2UpstreamConnection::send_trailers(int32_t id, const http::HeaderMap& trailers) {
  if (closed_) return;
  codec_.send_trailers(id, trailers);
  schedule_flush();
}

void Http2UpstreamConnection::reset_stream(int32_t id) {
  if (streams_.erase(id) == 0) return;
  std::erase(unannounced_, id);
  if (closed_) return;
  codec_.reset_stream(id, http::Http2ErrorCode::kCancel);
  schedule_flush();
  note_idle();
}

void Http2UpstreamConnection::consume(int32_t id, size_t bytes) {
  if (closed_ || bytes == 0) return;
  codec_.consume(id, bytes);
  schedule_flush();  // the WINDOW_UPDATE
}

void Http2UpstreamConnection::flush_now() {
  if (closed_) return;
  if (connected_ && !unannounced_.empty()) {
    std::vector<int32_t> ids;
    ids.swap(unannounced_);
    for (int32_t id : ids) {
      if (Http2StreamHandler* h = find(id)) {
        h->on_stream_connected(endpoint_, connection_->tls_info());
      }
      if (closed_) return;
    }
  }
  const bool more = codec_.flush();
  if (closed_) return;
  if (!more || codec_.failed() || (!usable() && streams_.empty())) {
    if (codec_.failed()) pool_.cluster().stats->upstream_cx_protocol_error.inc();
    close(codec_.failed() ? "HTTP/2 protocol error" : "upstream connection closed",
          codec_.failed() ? UpstreamFailure::ProtocolError : UpstreamFailure::Reset);
  }
}

void Http2UpstreamConnection::write(std::string_view bytes) {
  if (connection_ && connection_->is_open()) connection_->write(bytes);
}

// An upstream slow to read: frames stay in the codec (request data in its streams' queues,
// whose watermarks pause the clients) instead of piling up in the socket's buffer.
bool Http2UpstreamConnection::write_blocked() const {
  return connection_ && connection_->above_write_high_watermark();
}

void Http2UpstreamConnection::on_above_write_high_watermark() {
  pool_.cluster().stats->upstream_flow_control_backed_up_total.inc();
}

void Http2UpstreamConnection::on_below_write_low_watermark() {
  pool_.cluster().stats->upstream_flow_control_drained_total.inc();
  schedule_flush();
}

void Http2UpstreamConnection::on_connected() {
  connected_ = true;
  connect_timer_.disarm();
  // As Envoy: an HTTP/2 cluster over TLS that did not negotiate h2 still speaks HTTP/2
  // (prior knowledge); a server that cannot will fail the preface.
  schedule_flush();
}

void Http2UpstreamConnection::on_data(std::string& input) {
  if (closed_) {
    input.clear();
    return;
  }
  const bool ok = codec_.feed(input);
  input.clear();
  if (closed_) return;
  if (!ok) {
    pool_.cluster().stats->upstream_cx_protocol_error.inc();
    codec_.flush();  // the GOAWAY
    close("HTTP/2 protocol error", UpstreamFailure::ProtocolError);
    return;
  }
  flush_now();
}

void Http2UpstreamConnection::on_close(bool by_peer, std::string_view reason) {
  if (closed_) return;
  if (!connected_) {
    pool_.cluster().stats->upstream_cx_connect_fail.inc();
    close(reason, UpstreamFailure::ConnectFailure);
    return;
  }
  close(by_peer ? "upstream connection closed" : reason, UpstreamFailure::Reset);
}

void Http2UpstreamConnection::close(std::string_view reason, UpstreamFailure kind) {
  if (closed_) return;
  closed_ = true;
  connect_timer_.disarm();
  idle_timer_.disarm();
  flush_call_.cancel();
  connection_->set_handler(nullptr);
  // A connection with nothing in flight says its last words (GOAWAY) before closing.
  if (connection_->is_open()) {
    connection_->close(!streams_.empty() || kind != UpstreamFailure::Reset);
  }
  pool_.remove(this);  // deletes this after the current callback
  auto streams = std::move(streams_);
  streams_.clear();
  unannounced_.clear();
  const std::string why(reason);
  for (auto& [id, handler] : streams) handler->on_stream_reset(kind, why);
}

void Http2UpstreamConnection::note_idle() {
  if (closed_ || !streams_.empty()) return;
  if (!usable()) {
    // GOAWAY came and the last stream is done: nothing more can happen here (closed
    // once what is queued is written).
    schedule_flush();
    return;
  }
  const auto timeout = pool_.cluster().config.idle_timeout;
  if (timeout.count() > 0) idle_timer_.arm(timeout);
}

void Http2UpstreamConnection::on_response_headers(int32_t id, http::HeaderMap& headers,
                                                  bool end_stream) {
  if (Http2StreamHandler* h = find(id)) h->on_stream_headers(headers, end_stream);
}

void Http2UpstreamConnection::on_response_data(int32_t id, std::string_view data, bool end_stream) {
  if (Http2StreamHandler* h = find(id)) {
    h->on_stream_data(data, end_stream);
  } else {
    codec_.consume(id, data.size());
  }
}

void Http2UpstreamConnection::on_response_trailers(int32_t id, http::HeaderMap& trailers) {
  if (Http2StreamHandler* h = find(id)) h->on_stream_trailers(trailers);
}

void Http2UpstreamConnection::on_stream_reset(int32_t id, http::Http2ErrorCode code, bool refused) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Http2StreamHandler* h = it->second;
  streams_.erase(it);
  std::erase(unannounced_, id);
  UpstreamFailure kind = refused ? UpstreamFailure::RemoteRefusedStreamReset
                         : code == http::Http2ErrorCode::kProtocolError
                             ? UpstreamFailure::ProtocolError
                             : UpstreamFailure::RemoteReset;
  std::string why =
      refused ? "remote refused stream reset"
      : kind == UpstreamFailure::ProtocolError
          ? "protocol error"
          : "remote reset (error code " + std::to_string(static_cast<uint32_t>(code)) + ")";
  h->on_stream_reset(kind, why);
  note_idle();
}

void Http2UpstreamConnection::on_stream_complete(int32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Http2StreamHandler* h = it->second;
  streams_.erase(it);
  h->on_stream_complete();
  note_idle();
}

void Http2UpstreamConnection::on_send_buffer_high(int32_t id) {
  if (Http2StreamHandler* h = find(id)) h->on_stream_send_high();
}

void Http2UpstreamConnection::on_send_buffer_low(int32_t id) {
  if (Http2StreamHandler* h = find(id)) h->on_stream_send_low();
}

void Http2UpstreamConnection::on_goaway(int32_t, http::Http2ErrorCode) {
  pool_.cluster().stats->upstream_cx_close_notify.inc();
}

void Http2UpstreamConnection::on_event(http::Http2Event event) {
  ClusterStats& s = *pool_.cluster().stats;
  switch (event) {
    case http::Http2Event::kRxReset:
      s.http2_rx_reset.inc();
      break;
    case http::Http2Event::kTxReset:
      s.http2_tx_reset.inc();
      break;
    case http::Http2Event::kHeaderOverflow:
      s.http2_header_overflow.inc();
      break;
    case http::Http2Event::kRxMessagingError:
      s.http2_rx_messaging_error.inc();
      break;
    case http::Http2Event::kGoawaySent:
      s.http2_goaway_sent.inc();
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- pool

Http2UpstreamPool::Http2UpstreamPool(event::EventLoop& loop, UpstreamPool& tcp_pool)
    : loop_(loop),
      tcp_pool_(tcp_pool),
      options_(client_options(tcp_pool.cluster().config)),
      max_concurrent_streams_(
          tcp_pool.cluster().config.http2_protocol_options.max_concurrent_streams) {}

Http2UpstreamPool::~Http2UpstreamPool() = default;

const Cluster& Http2UpstreamPool::cluster() const { return tcp_pool_.cluster(); }

Result<Http2UpstreamConnection*> Http2UpstreamPool::pick() {
  for (auto& c : connections_) {
    if (c->has_room()) return c.get();
  }
  auto lease = tcp_pool_.acquire(true);
  if (!lease) return Error{lease.error()};
  cluster().stats->upstream_cx_http2_total.inc();
  connections_.push_back(std::make_unique<Http2UpstreamConnection>(
      *this, std::move(lease->connection), std::move(lease->endpoint)));
  return connections_.back().get();
}

void Http2UpstreamPool::remove(Http2UpstreamConnection* connection) {
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() != connection) continue;
    std::unique_ptr<Http2UpstreamConnection> doomed = std::move(*it);
    connections_.erase(it);
    tcp_pool_.connection_closed();
    loop_.defer_delete(std::move(doomed));
    return;
  }
}

}  // namespace weir::proxy
