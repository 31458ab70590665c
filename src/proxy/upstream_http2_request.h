#pragma once
// One request to an HTTP/2 cluster, as a stream on one of the worker's multiplexed
// connections (Http2UpstreamPool): the UpstreamRequest an ActiveStream drives when the
// cluster speaks HTTP/2. The request goes out less its hop-by-hop fields, with :scheme from
// the cluster's transport; bodies and trailers flow both ways. Reading pauses by holding
// back the stream's flow-control window: what the upstream may still send is bounded by
// the window (initial_stream_window_size), held here until reading resumes.
#include <memory>
#include <string>

#include "proxy/upstream_http2_pool.h"
#include "proxy/upstream_request.h"

namespace weir::proxy {

class Http2UpstreamRequest final : public UpstreamRequest, public Http2StreamHandler {
 public:
  Http2UpstreamRequest(UpstreamPool& pool, Callbacks& callbacks, event::EventLoop& loop);
  ~Http2UpstreamRequest() override;

  bool http2() const override { return true; }
  void start(bool head_request) override;
  void expect_upgrade() override { upgrade_requested_ = true; }
  void send_headers(const http::HeaderMap& headers, BodyFraming framing, bool end_stream) override;
  void send_body(std::string_view data, bool end_stream) override;
  void send_trailers(const http::HeaderMap& trailers) override;
  void abort() override;
  void read_disable(bool disable) override;

  // Http2StreamHandler
  void on_stream_connected(std::string_view endpoint, const net::tls::TlsInfo* tls) override;
  void on_stream_headers(http::HeaderMap& headers, bool end_stream) override;
  void on_stream_data(std::string_view data, bool end_stream) override;
  void on_stream_trailers(http::HeaderMap& trailers) override;
  void on_stream_complete() override;
  void on_stream_reset(UpstreamFailure kind, std::string_view reason) override;
  void on_stream_send_high() override;
  void on_stream_send_low() override;

 protected:
  std::string& head_buffer() override { return unused_head_; }
  void write_head_buffer(BodyFraming framing, bool end_stream) override;

 private:
  // Reports a failure after the current call returns (the caller is still setting up).
  void fail_later(UpstreamFailure kind, std::string reason);
  void deliver_held();
  std::shared_ptr<bool> alive();

  UpstreamPool& pool_;
  Callbacks& callbacks_;
  event::EventLoop& loop_;
  Http2UpstreamConnection* connection_ = nullptr;  // null before start and once done
  int32_t stream_ = -1;
  bool upgrade_requested_ = false;
  bool done_ = false;
  uint32_t read_disabled_ = 0;
  // Response data that came while reading was paused (not yet consumed: the window).
  std::string held_;
  bool held_end_ = false;
  bool held_trailers_ = false;
  http::HeaderMap held_trailer_map_;
  bool held_complete_ = false;
  std::string unused_head_;
  std::shared_ptr<bool> alive_;
};

}  // namespace weir::proxy
