#include "extensions/filters/network/tcp_proxy/tcp_proxy.h"

#include <spdlog/spdlog.h>

#include "access_log/log_format.h"

namespace weir::extensions::tcp_proxy {

using network::FilterStatus;

std::unique_ptr<TcpProxyStats> TcpProxyStats::create(stats::StatsStore& s,
                                                     const std::string& stat_prefix,
                                                     const std::string& listener_stat_name) {
  const std::string p = "tcp." + stat_prefix + ".";
  const std::string l = "listener." + listener_stat_name + ".";
  return std::unique_ptr<TcpProxyStats>(new TcpProxyStats{
      .downstream_cx_total = s.counter(p + "downstream_cx_total"),
      .downstream_cx_rx_bytes_total = s.counter(p + "downstream_cx_rx_bytes_total"),
      .downstream_cx_tx_bytes_total = s.counter(p + "downstream_cx_tx_bytes_total"),
      .downstream_flow_control_paused_reading_total =
          s.counter(p + "downstream_flow_control_paused_reading_total"),
      .downstream_flow_control_resumed_reading_total =
          s.counter(p + "downstream_flow_control_resumed_reading_total"),
      .idle_timeout = s.counter(p + "idle_timeout"),
      .upstream_flush_total = s.counter(p + "upstream_flush_total"),
      .upstream_flush_active = s.gauge(p + "upstream_flush_active"),
      .listener_downstream_cx_total = s.counter(l + "downstream_cx_total"),
      .listener_downstream_cx_active = s.gauge(l + "downstream_cx_active"),
  });
}

// The upstream connection's events, handed to the session.
class TcpProxySession::UpstreamHandler final : public net::Connection::Handler {
 public:
  explicit UpstreamHandler(TcpProxySession& session) : session_(session) {}
  void on_data(std::string& input) override { session_.on_upstream_data(input); }
  void on_connected() override { session_.on_upstream_connected(); }
  void on_read_closed() override { session_.on_upstream_read_closed(); }
  void on_above_write_high_watermark() override { session_.on_upstream_above_high_watermark(); }
  void on_below_write_low_watermark() override { session_.on_upstream_below_low_watermark(); }
  void on_close(bool by_peer, std::string_view) override { session_.on_upstream_close(by_peer); }

 private:
  TcpProxySession& session_;
};

// One filter of the chain, with the callbacks it was given.
class TcpProxySession::FilterSlot final : public network::NetworkFilterCallbacks {
 public:
  FilterSlot(TcpProxySession& session, size_t index) : session_(session), index_(index) {}

  void continue_downstream() override { resume(session_.down_); }
  void continue_upstream() override { resume(session_.up_); }
  void close_connection(bool) override {
    session_.after_callback([s = &session_] { s->close_all(false); });
  }
  const proxy::StreamInfo& stream_info() const override { return session_.info_; }

  std::unique_ptr<network::NetworkFilter> filter;
  bool initialized = false;

 private:
  // Where this filter sits in the direction's order (upstream bytes run in reverse).
  size_t position(const Direction& d) const {
    return d.downstream ? index_ : session_.filters_.size() - 1 - index_;
  }
  void resume(Direction& d) {
    if (d.stopped_at != position(d)) return;
    d.stopped_at = kNotStopped;
    session_.iterate(d, position(d) + 1);
  }

  TcpProxySession& session_;
  size_t index_;
};

TcpProxySession::TcpProxySession(TcpProxySetup& setup, int fd, const net::Address& peer,
                                 const net::Address& local, ClosedCallback on_closed)
    : setup_(setup), on_closed_(std::move(on_closed)) {
  downstream_ = std::make_unique<net::Connection>(setup_.loop, fd, false);
  downstream_->set_handler(this);
  downstream_->set_buffer_limit(setup_.buffer_limit);
  downstream_->enable_half_close(true);
  info_.connection_id = downstream_->id();
  info_.stream_id = downstream_->id();
  info_.downstream_remote_address = peer.ip();
  info_.downstream_remote_port = peer.port();
  info_.downstream_local_address = local.ip();
  info_.downstream_local_port = local.port();
  info_.protocol.clear();  // no HTTP here (%PROTOCOL% logs "-")
  info_.cluster_name = setup_.config.cluster;
  info_.start_time = setup_.loop.system_now();
  started_ = std::chrono::steady_clock::now();
  setup_.stats.downstream_cx_total.inc();
  setup_.stats.listener_downstream_cx_total.inc();
  setup_.stats.listener_downstream_cx_active.add(1);

  note_activity();
  if (setup_.config.idle_timeout.count() > 0) {
    idle_timer_ =
        std::make_unique<event::EventLoop::Timer>(setup_.loop, [this] { on_idle_timer(); });
    idle_timer_->arm(setup_.config.idle_timeout);
  }
  for (size_t i = 0; i < setup_.filter_factories.size(); ++i) {
    auto slot = std::make_unique<FilterSlot>(*this, i);
    slot->filter = setup_.filter_factories[i]->create_filter(*slot);
    filters_.push_back(std::move(slot));
  }
  // on_new_connection through the filters, then the upstream connect.
  iterate(down_, 0);
}

TcpProxySession::~TcpProxySession() {
  *alive_ = false;
  idle_timer_.reset();
  connect_timer_.reset();
  if (!finished_) {
    // Worker shutdown: the connections go without their callbacks.
    finished_ = true;
    for (auto& slot : filters_) slot->filter->on_session_complete();
    setup_.stats.listener_downstream_cx_active.sub(1);
    if (flushing_upstream_) setup_.stats.upstream_flush_active.sub(1);
    if (upstream_.connection && !upstream_closed_) setup_.pool.connection_closed();
  }
  if (downstream_) downstream_->set_handler(nullptr);
  if (upstream_.connection) upstream_.connection->set_handler(nullptr);
  filters_.clear();
}

template <typename F>
void TcpProxySession::after_callback(F&& action) {
  setup_.loop.defer([alive = alive_, action = std::forward<F>(action)]() mutable {
    if (*alive) action();
  });
}

net::Connection* TcpProxySession::source(const Direction& d) const {
  return d.downstream ? downstream_.get() : upstream_.connection.get();
}

net::Connection* TcpProxySession::destination(const Direction& d) const {
  return d.downstream ? upstream_.connection.get() : downstream_.get();
}

void TcpProxySession::take_input(Direction& d, std::string& input) {
  // The common case moves no byte: the held buffer and the connection's swap places.
  if (d.held.empty()) {
    d.held.swap(input);
  } else {
    d.held.append(input);
  }
  input.clear();
}

void TcpProxySession::iterate(Direction& d, size_t from) {
  const size_t n = filters_.size();
  for (size_t k = from; k <= n; ++k) {
    if (finished_ || closing_) return;
    if (k == n) {
      forward(d);
      return;
    }
    FilterSlot& slot = *filters_[d.downstream ? k : n - 1 - k];
    if (d.downstream && !slot.initialized) {
      slot.initialized = true;
      if (slot.filter->on_new_connection() == FilterStatus::StopIteration) {
        d.stopped_at = k;
        return;
      }
      if (finished_ || closing_) return;
    }
    if (!d.held.empty() || (d.end_stream && !d.end_forwarded)) {
      const FilterStatus status = d.downstream
                                      ? slot.filter->on_downstream_data(d.held, d.end_stream)
                                      : slot.filter->on_upstream_data(d.held, d.end_stream);
      if (status == FilterStatus::StopIteration) {
        d.stopped_at = k;
        update_reading(d);
        return;
      }
    }
  }
}

void TcpProxySession::forward(Direction& d) {
  d.stopped_at = kNotStopped;
  if (d.downstream && !upstream_started_) {
    start_upstream();
    if (finished_ || closing_) return;
  }
  net::Connection* to = destination(d);
  if (!to || !to->is_open()) {
    d.held.clear();
    return;
  }
  if (!d.held.empty()) {
    if (!d.downstream) {
      setup_.stats.downstream_cx_tx_bytes_total.inc(d.held.size());
      info_.bytes_sent += d.held.size();
    }
    to->write(d.held);
    d.held.clear();
  }
  if (d.end_stream && !d.end_forwarded) {
    d.end_forwarded = true;
    to->shutdown_write();
    if (down_.end_forwarded && up_.end_forwarded) {
      // Both directions ended: close once the last bytes are out.
      close_all(true);
      return;
    }
  }
  update_reading(d);
}

void TcpProxySession::update_reading(Direction& d) {
  d.held_full = d.held.size() >= setup_.buffer_limit;
  net::Connection* from = source(d);
  if (!from || !from->is_open() || d.end_stream) return;
  const bool want = !d.destination_backed_up && !d.held_full;
  if (want == from->reading()) return;
  from->set_reading(want);
  if (d.downstream) {
    (want ? setup_.stats.downstream_flow_control_resumed_reading_total
          : setup_.stats.downstream_flow_control_paused_reading_total)
        .inc();
  } else {
    auto& cluster = *setup_.pool.cluster().stats;
    (want ? cluster.upstream_flow_control_resumed_reading_total
          : cluster.upstream_flow_control_paused_reading_total)
        .inc();
  }
  if (want) {
    // Edge-triggered: what the kernel holds must be read again, outside this callback.
    const bool downstream = d.downstream;
    after_callback([this, downstream] {
      net::Connection* c = downstream ? downstream_.get() : upstream_.connection.get();
      if (c && c->is_open() && c->reading()) c->redeliver();
    });
  }
}

// ---- downstream events

void TcpProxySession::on_data(std::string& input) {
  note_activity();
  setup_.stats.downstream_cx_rx_bytes_total.inc(input.size());
  info_.bytes_received += input.size();
  take_input(down_, input);
  iterate(down_, 0);
}

void TcpProxySession::on_read_closed() {
  down_.end_stream = true;
  iterate(down_, 0);
}

void TcpProxySession::on_above_write_high_watermark() {
  up_.destination_backed_up = true;
  update_reading(up_);
}

void TcpProxySession::on_below_write_low_watermark() {
  up_.destination_backed_up = false;
  update_reading(up_);
}

void TcpProxySession::on_close(bool by_peer, std::string_view reason) {
  downstream_closed_ = true;
  spdlog::debug("tcp_proxy connection {}: downstream closed: {}", info_.connection_id, reason);
  for (auto& slot : filters_) slot->filter->on_downstream_close(by_peer);
  net::Connection* up = upstream_.connection.get();
  if (up && up->is_open()) {
    if (up->pending_output() > 0 && !flushing_upstream_) {
      flushing_upstream_ = true;
      setup_.stats.upstream_flush_total.inc();
      setup_.stats.upstream_flush_active.add(1);
    }
    up->close(closing_now_);
  }
  maybe_finish();
}

// ---- upstream

void TcpProxySession::start_upstream() {
  upstream_started_ = true;
  auto lease = setup_.pool.acquire(true);
  if (!lease) {
    spdlog::debug("tcp_proxy connection {}: cannot connect to cluster '{}': {}",
                  info_.connection_id, setup_.config.cluster, lease.error());
    upstream_closed_ = true;
    close_all(false);
    return;
  }
  upstream_ = std::move(*lease);
  upstream_handler_ = std::make_unique<UpstreamHandler>(*this);
  upstream_.connection->set_handler(upstream_handler_.get());
  upstream_.connection->enable_half_close(true);
  if (upstream_.connection->connecting()) {
    connect_timer_ =
        std::make_unique<event::EventLoop::Timer>(setup_.loop, [this] { on_connect_timeout(); });
    connect_timer_->arm(setup_.pool.cluster().config.connect_timeout);
  } else {
    on_upstream_connected();
  }
}

void TcpProxySession::on_upstream_connected() {
  upstream_connected_ = true;
  if (connect_timer_) connect_timer_->disarm();
  info_.upstream_host = upstream_.endpoint;
}

void TcpProxySession::on_connect_timeout() {
  spdlog::debug("tcp_proxy connection {}: connect to {} timed out", info_.connection_id,
                upstream_.endpoint);
  close_all(false);  // on_upstream_close counts the failure
}

void TcpProxySession::on_upstream_data(std::string& input) {
  note_activity();
  take_input(up_, input);
  iterate(up_, 0);
}

void TcpProxySession::on_upstream_read_closed() {
  up_.end_stream = true;
  iterate(up_, 0);
}

void TcpProxySession::on_upstream_above_high_watermark() {
  setup_.pool.cluster().stats->upstream_flow_control_backed_up_total.inc();
  down_.destination_backed_up = true;
  update_reading(down_);
}

void TcpProxySession::on_upstream_below_low_watermark() {
  setup_.pool.cluster().stats->upstream_flow_control_drained_total.inc();
  down_.destination_backed_up = false;
  update_reading(down_);
}

void TcpProxySession::on_upstream_close(bool by_peer) {
  upstream_closed_ = true;
  if (connect_timer_) connect_timer_->disarm();
  // The gauge first: whoever sees the failure counted sees the connection gone too.
  setup_.pool.connection_closed();
  if (!upstream_connected_) setup_.pool.cluster().stats->upstream_cx_connect_fail.inc();
  if (flushing_upstream_) {
    flushing_upstream_ = false;
    setup_.stats.upstream_flush_active.sub(1);
  }
  for (auto& slot : filters_) slot->filter->on_upstream_close(by_peer);
  // What reached the client's buffer still goes out.
  if (downstream_ && downstream_->is_open()) downstream_->close(closing_now_);
  maybe_finish();
}

// ---- lifetime

void TcpProxySession::on_idle_timer() {
  const auto idle = setup_.loop.now() - last_activity_;
  const auto timeout = setup_.config.idle_timeout;
  if (idle < timeout) {
    idle_timer_->arm(std::chrono::duration_cast<std::chrono::milliseconds>(timeout - idle) +
                     std::chrono::milliseconds(1));
    return;
  }
  setup_.stats.idle_timeout.inc();
  close_all(false);
}

void TcpProxySession::close_all(bool flush) {
  if (closing_) return;
  closing_ = true;
  closing_now_ = !flush;
  if (!upstream_started_ || !upstream_.connection) upstream_closed_ = true;
  if (downstream_ && downstream_->is_open()) downstream_->close(!flush);
  if (upstream_.connection && upstream_.connection->is_open()) upstream_.connection->close(!flush);
  maybe_finish();
}

void TcpProxySession::maybe_finish() {
  if (finished_) return;
  const bool upstream_done = !upstream_.connection || upstream_closed_;
  if (!downstream_closed_ || !upstream_done) return;
  if (!upstream_.connection) upstream_closed_ = true;
  finished_ = true;
  if (idle_timer_) idle_timer_->disarm();
  if (connect_timer_) connect_timer_->disarm();
  for (auto& slot : filters_) slot->filter->on_session_complete();
  setup_.stats.listener_downstream_cx_active.sub(1);
  if (setup_.access_log) {
    access_log::LogRecord record{info_};
    record.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started_);
    setup_.access_log->log(record);
  }
  on_closed_(this);
}

}  // namespace weir::extensions::tcp_proxy
