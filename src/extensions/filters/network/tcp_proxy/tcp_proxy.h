#pragma once
// envoy.filters.network.tcp_proxy: proxies the bytes of each downstream connection to a
// new connection to the cluster, through the listener's network filters (network Wasm
// plugins), with Envoy's tcp.<stat_prefix>.* stats.
//
// - Half-close passes through: a side that shuts down its sending half has the other
//   side's sending half shut down once what it sent is flushed; the connection is over
//   when both directions have ended, or when either side closes or fails (the other is
//   then closed after its buffered bytes are flushed).
// - Flow control, the watermark model of HTTP: a side whose output buffer is over its
//   high watermark (the per-connection buffer limit) stops reading the other side until
//   it drains to the low watermark. Bytes a filter holds count toward the limit of the
//   side they came from: past it, that side is not read until the filter lets them go.
// - idle_timeout (default 1 h, 0 none): no byte in either direction for that long
//   closes both sides (tcp.<prefix>.idle_timeout).
// - The upstream connect fails (refused, cluster connect_timeout): the client's
//   connection is closed; cluster.<name>.upstream_cx_connect_fail counts it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "access_log/access_logger.h"
#include "config/config.h"
#include "event/event_loop.h"
#include "extensions/filters/network/network_filter.h"
#include "net/address.h"
#include "net/connection.h"
#include "proxy/upstream_pool.h"
#include "stats/stats_store.h"

namespace weir::extensions::tcp_proxy {

// Envoy's tcp.<stat_prefix>.* names, and the listener's downstream_cx_total.
struct TcpProxyStats {
  stats::Counter& downstream_cx_total;
  stats::Counter& downstream_cx_rx_bytes_total;
  stats::Counter& downstream_cx_tx_bytes_total;
  stats::Counter& downstream_flow_control_paused_reading_total;
  stats::Counter& downstream_flow_control_resumed_reading_total;
  stats::Counter& idle_timeout;
  // The client closed while bytes for the upstream were still buffered: the upstream
  // connection stays open until they are flushed.
  stats::Counter& upstream_flush_total;
  stats::Gauge& upstream_flush_active;
  stats::Counter& listener_downstream_cx_total;
  stats::Gauge& listener_downstream_cx_active;

  static std::unique_ptr<TcpProxyStats> create(stats::StatsStore& store,
                                               const std::string& stat_prefix,
                                               const std::string& listener_stat_name);
};

// What every connection of one tcp_proxy listener on one worker shares.
struct TcpProxySetup {
  const config::TcpProxyConfig& config;
  proxy::UpstreamPool& pool;
  TcpProxyStats& stats;
  event::EventLoop& loop;
  uint32_t buffer_limit;  // the listener's per_connection_buffer_limit_bytes
  std::vector<std::unique_ptr<network::NetworkFilterFactory>> filter_factories;
  std::unique_ptr<access_log::WorkerAccessLogger> access_log;
};

class TcpProxySession : public net::Connection::Handler {
 public:
  using ClosedCallback = std::function<void(TcpProxySession*)>;
  // Takes ownership of `fd`. `on_closed` runs once both sides are closed (from inside a
  // connection callback: the owner defers the delete).
  TcpProxySession(TcpProxySetup& setup, int fd, const net::Address& peer, const net::Address& local,
                  ClosedCallback on_closed);
  ~TcpProxySession() override;
  TcpProxySession(const TcpProxySession&) = delete;
  TcpProxySession& operator=(const TcpProxySession&) = delete;

  // net::Connection::Handler, for the downstream connection.
  void on_data(std::string& input) override;
  void on_read_closed() override;
  void on_above_write_high_watermark() override;
  void on_below_write_low_watermark() override;
  void on_close(bool by_peer, std::string_view reason) override;

 private:
  class UpstreamHandler;
  class FilterSlot;
  static constexpr size_t kNotStopped = SIZE_MAX;
  // One direction of the proxied bytes.
  struct Direction {
    explicit Direction(bool is_downstream) : downstream(is_downstream) {}
    const bool downstream;               // client -> upstream
    std::string held;                    // read and not yet passed through every filter
    bool end_stream = false;             // the source shut down its sending half
    bool end_forwarded = false;          // ...and that reached the destination
    bool destination_backed_up = false;  // the destination's output is over its watermark
    bool held_full = false;              // `held` reached the buffer limit
    size_t stopped_at = kNotStopped;     // the position of the filter holding `held`
  };

  void start_upstream();
  void on_upstream_connected();
  void on_upstream_data(std::string& input);
  void on_upstream_read_closed();
  void on_upstream_close(bool by_peer);
  void on_upstream_above_high_watermark();
  void on_upstream_below_low_watermark();

  // Runs the filters from `from` (downstream: in order; upstream: in reverse) over what
  // the direction holds, then hands it to the destination.
  void iterate(Direction& d, size_t from);
  void forward(Direction& d);
  net::Connection* source(const Direction& d) const;
  net::Connection* destination(const Direction& d) const;
  // Reading of a direction's source: stopped while its destination is backed up or a
  // filter holds a buffer limit of its bytes.
  void update_reading(Direction& d);
  void take_input(Direction& d, std::string& input);
  void note_activity() { last_activity_ = setup_.loop.now(); }
  void on_idle_timer();
  void on_connect_timeout();
  // Closes both sides: `flush` lets buffered bytes out first.
  void close_all(bool flush);
  // Deferred: after the current callback (filters' requests, redeliveries).
  template <typename F>
  void after_callback(F&& action);
  void maybe_finish();

  TcpProxySetup& setup_;
  ClosedCallback on_closed_;
  proxy::StreamInfo info_;
  std::unique_ptr<net::Connection> downstream_;
  std::unique_ptr<UpstreamHandler> upstream_handler_;
  proxy::UpstreamPool::Lease upstream_;
  std::vector<std::unique_ptr<FilterSlot>> filters_;
  Direction down_{true};
  Direction up_{false};
  bool upstream_started_ = false;
  bool upstream_connected_ = false;
  bool downstream_closed_ = false;
  bool upstream_closed_ = false;
  bool flushing_upstream_ = false;  // counted in upstream_flush_active
  bool finished_ = false;
  bool closing_ = false;      // close_all ran
  bool closing_now_ = false;  // ...dropping unsent bytes
  event::Clock::time_point last_activity_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<event::EventLoop::Timer> idle_timer_;
  std::unique_ptr<event::EventLoop::Timer> connect_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace weir::extensions::tcp_proxy
