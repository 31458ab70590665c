#pragma once
// One request to a cluster over HTTP/1.1 (UpstreamRequest for HTTP/1 clusters): takes a connection
// from the pool, writes the request as the stream hands it over, parses the response and hands it
// back. A reused connection that the upstream had closed (it dies before any response byte) is
// retried once on a fresh connection, so a stale pooled connection never fails a request.
//
// A connection goes back to the pool only after an exchange that ended cleanly on both
// sides: never after an upgrade request (a 101 switches the connection to another
// protocol), a malformed response, a request cut short, bytes past the end of the
// response, or unsent output.
#include <memory>
#include <string>
#include <string_view>

#include "common/recycled.h"
#include "event/event_loop.h"
#include "http/http1_parser.h"
#include "net/connection.h"
#include "proxy/upstream_pool.h"
#include "proxy/upstream_request.h"

namespace weir::proxy {

// Recycled: made and freed for every request.
class Http1UpstreamRequest final : public UpstreamRequest,
                                   public net::Connection::Handler,
                                   public http::Http1Visitor,
                                   public Recycled<Http1UpstreamRequest> {
 public:
  Http1UpstreamRequest(UpstreamPool& pool, Callbacks& callbacks, event::EventLoop& loop);
  ~Http1UpstreamRequest() override;

  bool http2() const override { return false; }
  void start(bool head_request) override;
  void expect_upgrade() override { upgrade_requested_ = true; }
  void send_headers(const http::HeaderMap& headers, BodyFraming framing, bool end_stream) override;
  void send_body(std::string_view data, bool end_stream) override;
  void send_trailers(const http::HeaderMap& trailers) override;
  // The connection is closed (a half-done exchange cannot be reused).
  void abort() override;
  void read_disable(bool disable) override;

  // Http1Visitor
  void on_headers(http::HeaderMap& headers, const http::MessageHead& head,
                  bool end_stream) override;
  void on_body(std::string_view data, bool end_stream) override;
  void on_trailers(http::HeaderMap& trailers) override;
  void on_message_complete() override;
  // Connection::Handler
  void on_data(std::string& input) override;
  void on_connected() override;
  void on_close(bool by_peer, std::string_view reason) override;
  void on_above_write_high_watermark() override;
  void on_below_write_low_watermark() override;

 private:
  void connect(bool fresh);
  void write(std::string_view data);
  // The head is written where the retry copy keeps it, then sent from there: one copy.
  std::string& head_buffer() override;
  void write_head_buffer(BodyFraming framing, bool end_stream) override;
  void fail(UpstreamFailure kind, std::string_view reason);
  void protocol_error(std::string_view reason);
  // The response was parsed to its end: park or close the connection, then tell.
  void report_complete(bool reusable);
  void finish_connection(bool reusable);

  static constexpr size_t kRetryCopyLimit = 64 * 1024;

  UpstreamPool& pool_;
  Callbacks& callbacks_;
  event::EventLoop& loop_;
  UpstreamPool::Lease lease_;
  std::unique_ptr<http::Http1Parser> parser_;
  event::EventLoop::TimerId connect_timer_ = 0;
  BodyFraming framing_ = BodyFraming::None;
  bool head_request_ = false;
  bool upgrade_requested_ = false;
  bool tunnelling_ = false;  // a 101 switched the connection to the upgraded protocol
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool completion_reported_ = false;
  bool response_keep_alive_ = true;
  bool done_ = false;
  bool aborted_ = false;
  bool retried_ = false;
  bool connected_ = false;
  bool copy_valid_ = true;
  uint32_t read_disabled_ = 0;  // nested read_disable(true) calls
  std::string sent_copy_;       // what was written, to replay on a retry
  // Lets deferred work find out this request is gone; made only when work is deferred.
  std::shared_ptr<bool> alive();
  std::shared_ptr<bool> alive_;
};

}  // namespace weir::proxy
