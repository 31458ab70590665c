#pragma once
// One request to a cluster over HTTP/1.1: takes a connection from the pool, writes the
// request as the stream hands it over, parses the response and hands it back. A reused
// connection that the upstream had closed (it dies before any response byte) is retried
// once on a fresh connection, so a stale pooled connection never fails a request.
#include <memory>
#include <string>
#include <string_view>

#include "event/event_loop.h"
#include "http/http1_parser.h"
#include "net/connection.h"
#include "proxy/upstream_pool.h"

namespace weir::proxy {

enum class BodyFraming { None, ContentLength, Chunked };
enum class UpstreamFailure { ConnectFailure, Reset, ProtocolError };

class UpstreamRequest : public net::Connection::Handler, public http::Http1Visitor {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void on_upstream_connected(std::string_view endpoint) = 0;
    virtual void on_upstream_headers(http::HeaderMap& headers, const http::MessageHead& head,
                                     bool end_stream) = 0;
    virtual void on_upstream_body(std::string_view data, bool end_stream) = 0;
    virtual void on_upstream_trailers(http::HeaderMap& trailers) = 0;
    virtual void on_upstream_complete() = 0;
    virtual void on_upstream_failure(UpstreamFailure kind, std::string_view reason) = 0;
  };

  UpstreamRequest(UpstreamPool& pool, Callbacks& callbacks, event::EventLoop& loop);
  ~UpstreamRequest() override;

  // Acquires a connection; failures are reported through on_upstream_failure (deferred).
  void start(bool head_request);
  void send_headers(const http::HeaderMap& headers, BodyFraming framing, bool end_stream);
  void send_body(std::string_view data, bool end_stream);
  void send_trailers(const http::HeaderMap& trailers);
  // Stops everything: the connection is closed (a half-done exchange cannot be reused).
  void abort();

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

 private:
  void connect(bool fresh);
  void write(std::string_view data);
  void fail(UpstreamFailure kind, std::string_view reason);
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
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool response_keep_alive_ = true;
  bool done_ = false;
  bool retried_ = false;
  bool connected_ = false;
  bool copy_valid_ = true;
  std::string sent_copy_;  // what was written, to replay on a retry
};

}  // namespace weir::proxy
