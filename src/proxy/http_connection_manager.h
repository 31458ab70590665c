#pragma once
// One downstream HTTP/1 connection: parses requests, runs one ActiveStream at a time
// (pipelined requests wait, unparsed, until the previous response is written, so
// responses go out in order), answers malformed input with a 4xx and closes.
#include <functional>
#include <memory>

#include "http/http1_parser.h"
#include "net/address.h"
#include "net/connection.h"
#include "proxy/active_stream.h"
#include "proxy/connection_manager_setup.h"

namespace weir::proxy {

class HttpConnectionManager : public net::Connection::Handler,
                              public http::Http1Visitor,
                              public StreamOwner {
 public:
  using ClosedCallback = std::function<void(HttpConnectionManager*)>;
  HttpConnectionManager(ConnectionManagerSetup& setup, int fd, const net::Address& peer,
                        const net::Address& local, ClosedCallback on_closed);
  ~HttpConnectionManager() override;

  // Drain: close now if idle, else after the current response.
  void drain();
  bool idle() const { return !stream_; }

  // Connection::Handler
  void on_data(std::string& input) override;
  void on_close(bool by_peer, std::string_view reason) override;
  // Http1Visitor
  void on_headers(http::HeaderMap& headers, const http::MessageHead& head,
                  bool end_stream) override;
  void on_body(std::string_view data, bool end_stream) override;
  void on_trailers(http::HeaderMap& trailers) override;
  void on_message_complete() override;
  // StreamOwner
  void write_downstream(std::string_view data) override;
  void on_stream_finished(bool close_connection) override;

 private:
  void answer_protocol_error();
  void arm_idle_timer();

  ConnectionManagerSetup& setup_;
  net::Connection connection_;
  http::Http1Parser parser_;
  net::Address peer_;
  net::Address local_;
  ClosedCallback on_closed_;
  std::unique_ptr<ActiveStream> stream_;
  uint64_t next_stream_id_ = 1;
  bool closed_ = false;
  bool draining_ = false;
  event::EventLoop::TimerId idle_timer_ = 0;
};

}  // namespace weir::proxy
