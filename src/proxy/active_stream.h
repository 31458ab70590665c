#pragma once
// One request/response exchange on a downstream connection: runs the request through
// the filter chain (config order), routes it, forwards it upstream (or answers directly),
// and runs the response back through the filters (reverse order) to the client.
//
// A stream's life, in three pieces of state:
// - Phase: Active (request and response flow) -> [LocalReply (weir or a filter answered:
//   the rest of the request and anything from upstream is dropped)] -> Complete (the
//   response went out whole) or Reset (it did not). Complete and Reset are finished().
// - For each direction, where its headers are in the filter chain (HeadersState):
//   Pending -> [Held / HeldWithBody at a filter that stopped them, until it continues]
//   -> Passed (request: routed and sent upstream; response: written to the client).
//   A direction's body follows its headers: while they are Pending or HeldWithBody it is
//   kept (Held: it runs through the filters up to the holding one), and a filter that
//   stops the body buffers it (body_stop) until it continues.
// - Upgrade: None, Refused (CONNECT), Accepted (the request asked and may) -> Tunnel
//   (a 101 went out: both directions are raw bytes from then on).
// The fast path is Active with both directions Passed and no filter stopping the body.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/recycled.h"
#include "http/http1_parser.h"
#include "proxy/connection_manager_setup.h"
#include "proxy/http_filter.h"
#include "proxy/upstream_request.h"

namespace weir::proxy {

class StreamOwner {
 public:
  virtual ~StreamOwner() = default;
  virtual void write_downstream(std::string_view data) = 0;
  // The response is fully written (or the stream was reset). Called once.
  virtual void on_stream_finished(bool close_connection) = 0;
  // Flow control of the client connection: stop / resume reading it. Calls nest; the
  // stream undoes its own before it finishes.
  virtual void read_disable_downstream(bool disable) = 0;
  // The client connection's output is over its high watermark now.
  virtual bool downstream_above_high_watermark() const = 0;
  // A 101 went out: from now on the client's bytes are the tunnel's, for on_request_body.
  virtual void on_tunnel_established() = 0;
  // HTTP/2: the owner frames the response itself from the header maps, and the stream
  // hands it the parts instead of HTTP/1 bytes (write_downstream is then never called).
  // Asked once, when the stream is made.
  virtual bool frames_responses() const { return false; }
  virtual void send_response_headers(const http::HeaderMap& headers, bool end_stream) {}
  virtual void send_response_data(std::string_view data, bool end_stream) {}
  virtual void send_response_trailers(const http::HeaderMap& trailers) {}
};

// Recycled: 1.6 KB, made and freed for every request (past glibc's per-thread cache).
class ActiveStream : public HttpFilterCallbacks,
                     public UpstreamRequest::Callbacks,
                     public Recycled<ActiveStream> {
 public:
  ActiveStream(ConnectionManagerSetup& setup, StreamOwner& owner, StreamInfo info);
  ~ActiveStream() override;

  // Downstream request events (from the connection's parser).
  void on_request_headers(http::HeaderMap& headers, const http::MessageHead& head, bool end_stream);
  void on_request_body(std::string_view data, bool end_stream);
  void on_request_trailers(http::HeaderMap& trailers);
  // The client went away or the connection broke: end without a response.
  void reset(std::string_view reason);
  // The request turned out malformed after its headers (a bad chunk): answered with
  // `status` while no response has gone out, else reset. Either way the upstream
  // connection, which may have part of the request, is closed.
  void on_request_protocol_error(uint32_t status, std::string_view reason);
  // This response ends the connection (max_requests_per_connection reached).
  void close_connection_after_response() { close_after_ = true; }
  bool finished() const { return phase_ == Phase::Complete || phase_ == Phase::Reset; }

  // Flow control: the client connection's output crossed its watermarks (a slow reader):
  // stop / resume reading the upstream.
  void on_downstream_above_high_watermark();
  void on_downstream_below_low_watermark();

  // HttpFilterCallbacks
  void continue_request() override;
  void continue_response() override;
  void send_local_reply(uint32_t status, std::string_view body, const http::HeaderMap& headers,
                        std::string_view details) override;
  http::HeaderMap* request_headers() override;
  http::HeaderMap* response_headers() override;
  http::HeaderMap* request_trailers() override;
  http::HeaderMap* response_trailers() override;
  StreamInfo& stream_info() override { return info_; }
  const config::Route* route() override;
  const config::ClusterConfig* cluster_config(std::string_view name) override;
  void clear_route_cache() override { route_resolved_ = false; }
  void reset_stream() override;
  // Resume only where filter `index` stopped this direction (a filter's own callbacks).
  void continue_request_from(size_t index);
  void continue_response_from(size_t index);

  // UpstreamRequest::Callbacks
  void on_upstream_connected(std::string_view endpoint, const net::tls::TlsInfo* tls) override;
  void on_upstream_headers(http::HeaderMap& headers, const http::MessageHead& head,
                           bool end_stream) override;
  void on_upstream_body(std::string_view data, bool end_stream) override;
  void on_upstream_trailers(http::HeaderMap& trailers) override;
  void on_upstream_complete() override;
  void on_upstream_failure(UpstreamFailure kind, std::string_view reason) override;
  void on_upstream_above_write_high_watermark() override;
  void on_upstream_below_write_low_watermark() override;

 private:
  struct LocalReply {
    uint32_t status;
    std::string body;
    http::HeaderMap headers;
    std::string details;
  };
  // Request path.
  void decode_headers_from(size_t index);
  void decode_body_from(size_t index, std::string data, bool end_stream);
  void decode_trailers_from(size_t index);
  // The headers wait at a filter that stopped them alone (StopIteration): the body still
  // runs through the filters up to it, from `index`.
  void decode_body_to_held_headers(size_t index, std::string_view data, bool end_stream);
  void route_request();
  void forward_headers_upstream();
  // Response path (filters run from last to first; index counts down).
  void encode_headers_from(size_t index);
  void encode_body_from(size_t index, std::string data, bool end_stream);
  void encode_trailers_from(size_t index);
  void encode_body_to_held_headers(size_t index, std::string_view data, bool end_stream);
  void write_response_headers();
  void flush_pending_head();
  void write_response_body(std::string_view data, bool end_stream);
  void write_response_trailers();
  void complete_response();

  void add_forwarding_headers();
  void strip_host_port();
  // Upgrades (WebSocket): whether this request may switch protocols, per upgrade_configs.
  void decide_upgrade();
  bool upgrade_allowed(std::string_view upgrade_type) const;
  // Ends this stream's use of the upstream request (closing its connection if `abort`).
  void release_upstream(bool abort);
  // Flow control: `reason` records whether this stream holds the pause, so that each
  // pause is undone exactly once.
  void pause_downstream(bool& reason, bool pause);
  void pause_upstream(bool& reason, bool pause);
  bool take_pending_local_reply();
  void start_local_reply(LocalReply reply);
  void finish(bool close_connection, bool response_complete = false);
  void arm_idle_timer();
  void on_idle_timer();
  void on_idle_timeout();
  void on_route_timeout();
  void answer_error(uint32_t status, std::string_view body, std::string_view details);

  class FilterHandle;

  ConnectionManagerSetup& setup_;
  StreamOwner& owner_;
  const bool framed_;  // owner_.frames_responses()
  StreamInfo info_;
  std::vector<FilterHandle> handles_;  // filter i's callbacks
  std::vector<std::unique_ptr<HttpFilter>> filters_;
  http::MessageHead request_head_;
  std::optional<http::HeaderMap> request_headers_;
  std::optional<http::HeaderMap> request_trailers_;
  std::optional<http::HeaderMap> response_headers_;
  std::optional<http::HeaderMap> response_trailers_;
  std::unique_ptr<UpstreamRequest> upstream_;
  // The pool of info_.cluster_name, looked up once per routing (the pools outlive streams).
  UpstreamPool* cluster_pool_ = nullptr;
  const config::Route* route_ = nullptr;
  bool route_resolved_ = false;

  enum class Phase : uint8_t { Active, LocalReply, Complete, Reset };
  enum class HeadersState : uint8_t {
    Pending,       // not through the filters yet (or on their way now)
    Held,          // a filter returned StopIteration: the body still runs up to it
    HeldWithBody,  // a filter returned StopAllIteration: the body waits too
    Passed,        // through every filter
  };
  static constexpr size_t kNoFilter = SIZE_MAX;
  // Where one direction of the exchange is in the filter chain. Filter indexes are the
  // request's order on both sides; the response side counts down.
  struct Direction {
    explicit Direction(size_t first_filter) : body_from(first_filter) {}
    HeadersState headers = HeadersState::Pending;
    size_t headers_stop = 0;  // the filter holding the headers (Held, HeldWithBody)
    // The filter the held body goes to first once the headers pass (the filters before
    // it saw it while the headers waited). Request: 0 for all; response: kNoFilter for all.
    size_t body_from;
    size_t body_stop = kNoFilter;      // the filter buffering the body
    std::string body_held;             // body kept while held or buffered
    bool end_seen = false;             // the sender's end of stream arrived
    size_t trailers_stop = kNoFilter;  // the filter holding the trailers
    bool stopped() const {
      return headers == HeadersState::Held || headers == HeadersState::HeldWithBody;
    }
    void stop_headers(size_t index, FilterStatus status) {
      headers = status == FilterStatus::StopAllIteration ? HeadersState::HeldWithBody
                                                         : HeadersState::Held;
      headers_stop = index;
    }
  };
  enum class Upgrade : uint8_t { None, Refused, Accepted, Tunnel };

  Phase phase_ = Phase::Active;
  Direction request_{0};
  Direction response_{kNoFilter};
  Upgrade upgrade_ = Upgrade::None;

  // Request path details.
  bool request_end_forwarded_ = false;
  bool request_has_trailers_ = false;
  BodyFraming upstream_framing_ = BodyFraming::None;

  // Response path details.
  bool response_chunked_ = false;
  bool upstream_response_started_ = false;
  std::string upgrade_type_;      // the request's Upgrade value, when accepted
  std::string response_upgrade_;  // the 101's Upgrade value

  // Flow control: the pauses this stream holds, one flag per reason.
  bool downstream_paused_by_upstream_ = false;   // upstream output over its watermark
  bool downstream_paused_by_held_body_ = false;  // filters hold the request at the limit
  bool upstream_paused_by_downstream_ = false;   // client output over its watermark
  bool upstream_paused_by_held_body_ = false;    // filters hold the response at the limit

  std::optional<LocalReply> pending_local_reply_;
  bool in_filter_callback_ = false;
  bool close_after_ = false;
  event::EventLoop::Timer idle_timer_;
  event::EventLoop::Timer route_timer_;
  // The response head, written but held until the first body bytes (or the end of the
  // current callback, when flush_head_ runs).
  std::string pending_head_;
  event::EventLoop::ScheduledCall flush_head_;
  // Times come from the event loop's clock, read once per loop iteration.
  event::Clock::time_point start_;
  event::Clock::time_point last_activity_;
  event::Clock::time_point upstream_start_;
  // Lets deferred work find out the stream has finished; made only when work is deferred.
  std::shared_ptr<bool> alive();
  std::shared_ptr<bool> alive_;
};

}  // namespace weir::proxy
