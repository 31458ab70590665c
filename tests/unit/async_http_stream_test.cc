// AsyncHttpClient's streaming API (start_stream / send_data / send_trailers / reset) against
// a real HTTP/2 server on loopback: weir's own server codec on the same event loop, which
// echoes each request DATA frame back and ends with trailers (a bidirectional stream, as
// gRPC has). Checks the order of callbacks, that none runs inside a send call, and that
// nothing runs after reset().
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "event/event_loop.h"
#include "http/http2_server_codec.h"
#include "net/acceptor.h"
#include "net/address.h"
#include "net/connection.h"
#include "net/socket.h"
#include "proxy/async_http_client.h"
#include "proxy/cluster_manager.h"
#include "proxy/upstream_pool.h"
#include "stats/stats_store.h"

namespace weir::proxy {
namespace {

// HTTP/2's initial 64 KiB windows (weir's own default is Envoy's 256 MiB): a server that
// stops reading then holds the client back after 64 KiB.
http::Http2Options small_windows() {
  http::Http2Options options;
  options.initial_stream_window_size = 65535;
  options.initial_connection_window_size = 65535;
  return options;
}

// One connection of the echo server.
class EchoSession : public net::Connection::Handler, public http::Http2ServerCodec::Visitor {
 public:
  EchoSession(event::EventLoop& loop, int fd)
      : connection_(std::make_unique<net::Connection>(loop, fd, false)),
        codec_(*this, small_windows()) {
    connection_->set_handler(this);
    codec_.start();
    codec_.flush();
  }
  void on_data(std::string& input) override {
    codec_.feed(input);
    input.clear();
    codec_.flush();
  }
  void on_close(bool, std::string_view) override { closed = true; }
  void write(std::string_view bytes) override { connection_->write(bytes); }
  void on_request_headers(int32_t stream, http::HeaderMap& headers, bool end_stream) override {
    path = std::string(headers.get(":path").value_or(""));
    if (path == "/silent" || path == "/stalled") return;  // never answers
    http::HeaderMap response;
    response.add(":status", "200");
    response.add("x-path", path);
    codec_.send_headers(stream, response, false);
    if (end_stream) finish(stream, 0);
  }
  void on_request_data(int32_t stream, std::string_view data, bool end_stream) override {
    if (path == "/stalled") return;  // reads nothing: the stream's window stays closed
    codec_.consume(stream, data.size());
    if (path == "/silent") return;
    if (!data.empty()) codec_.send_data(stream, data, false);
    if (end_stream) finish(stream, 0);
  }
  void on_request_trailers(int32_t stream, http::HeaderMap& trailers) override {
    if (path == "/silent") return;
    finish(stream, trailers.size());
  }
  void on_stream_reset(int32_t, http::Http2ErrorCode) override { ++resets; }
  void on_stream_complete(int32_t) override {}
  void on_send_buffer_high(int32_t) override {}
  void on_send_buffer_low(int32_t) override {}
  void on_event(http::Http2Event) override {}

  bool closed = false;
  int resets = 0;

 private:
  void finish(int32_t stream, size_t request_trailers) {
    http::HeaderMap trailers;
    trailers.add("grpc-status", "0");
    trailers.add("x-request-trailers", std::to_string(request_trailers));
    codec_.send_trailers(stream, trailers);
  }
  std::unique_ptr<net::Connection> connection_;
  http::Http2ServerCodec codec_;
  std::string path;
};

class AsyncHttpStreamTest : public ::testing::Test, public AsyncStreamCallbacks {
 protected:
  void SetUp() override {
    auto addr = net::resolve("127.0.0.1", 0);
    ASSERT_TRUE(addr.ok());
    auto fd = net::listen_on(*addr, false);
    ASSERT_TRUE(fd.ok());
    listen_fd_ = *fd;
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::make_unique<net::Acceptor>(
        loop_, listen_fd_, net::Acceptor::Options{.name = "echo"},
        [this](int cfd, const net::Address&) {
          sessions_.push_back(std::make_unique<EchoSession>(loop_, cfd));
        },
        [](int) {});
    config::ClusterConfig h2;
    h2.name = "h2";
    h2.endpoints.push_back({"127.0.0.1", port_});
    h2.http_protocol = config::UpstreamHttpProtocol::Http2;
    config::ClusterConfig h1 = h2;
    h1.name = "h1";
    h1.http_protocol = config::UpstreamHttpProtocol::Http1;
    auto cm = ClusterManager::create({h2, h1}, stats_);
    ASSERT_TRUE(cm.ok()) << cm.error();
    clusters_ = std::move(*cm);
    for (const auto& [name, cluster] : clusters_->clusters()) {
      pools_[name] = std::make_unique<UpstreamPool>(loop_, cluster);
    }
    client_ = std::make_unique<AsyncHttpClient>(loop_, [this](std::string_view name) {
      auto it = pools_.find(std::string(name));
      return it == pools_.end() ? nullptr : it->second.get();
    });
    guard_ = loop_.add_timer(std::chrono::seconds(5), [this] {
      timed_out_ = true;
      loop_.stop();
    });
  }
  void TearDown() override {
    loop_.cancel_timer(guard_);
    client_.reset();
    pools_.clear();
    acceptor_.reset();
    sessions_.clear();
    loop_.run_deferred();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  // AsyncStreamCallbacks: recorded in order; none may run inside a client call.
  void on_headers(http::HeaderMap& headers, bool end_stream) override {
    EXPECT_FALSE(in_client_call_);
    events_.push_back("headers " + std::string(headers.get(":status").value_or("?")) +
                      (end_stream ? " end" : ""));
  }
  void on_data(std::string_view data, bool end_stream) override {
    EXPECT_FALSE(in_client_call_);
    body_.append(data);
    if (end_stream) events_.push_back("data end");
  }
  void on_trailers(http::HeaderMap& trailers) override {
    EXPECT_FALSE(in_client_call_);
    events_.push_back(
        "trailers grpc-status=" + std::string(trailers.get("grpc-status").value_or("?")) +
        " request-trailers=" + std::string(trailers.get("x-request-trailers").value_or("?")));
  }
  void on_complete() override {
    EXPECT_FALSE(in_client_call_);
    events_.push_back("complete");
    loop_.stop();
  }
  void on_reset(std::string_view reason) override {
    EXPECT_FALSE(in_client_call_);
    events_.push_back("reset " + std::string(reason));
    loop_.stop();
  }

  template <typename F>
  auto call(F&& f) {
    in_client_call_ = true;
    auto result = f();
    in_client_call_ = false;
    return result;
  }

  static http::HeaderMap request(std::string_view path) {
    http::HeaderMap h;
    h.add(":method", "POST");
    h.add(":path", path);
    h.add(":authority", "echo");
    h.add("content-type", "application/grpc");
    h.add("te", "trailers");
    return h;
  }

  event::EventLoop loop_;
  stats::StatsStore stats_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::unique_ptr<net::Acceptor> acceptor_;
  std::vector<std::unique_ptr<EchoSession>> sessions_;
  std::unique_ptr<ClusterManager> clusters_;
  std::map<std::string, std::unique_ptr<UpstreamPool>> pools_;
  std::unique_ptr<AsyncHttpClient> client_;
  event::EventLoop::TimerId guard_ = 0;
  bool timed_out_ = false;
  bool in_client_call_ = false;
  std::vector<std::string> events_;
  std::string body_;
};

TEST_F(AsyncHttpStreamTest, BidirectionalStreamWithTrailersBothWays) {
  auto id = call([&] { return client_->start_stream("h2", request("/echo"), *this, {}); });
  ASSERT_TRUE(id.ok()) << id.error();
  // Queued before the stream starts, then sent as they come.
  EXPECT_TRUE(call([&] { return client_->send_data(*id, "ping ", false); }));
  loop_.add_timer(std::chrono::milliseconds(20), [&] {
    EXPECT_TRUE(call([&] { return client_->send_data(*id, "pong", false); }));
    http::HeaderMap trailers;
    trailers.add("x-request-trailer", "1");
    EXPECT_TRUE(call([&] { return client_->send_trailers(*id, trailers); }));
    // The request has ended: more is refused.
    EXPECT_FALSE(call([&] { return client_->send_data(*id, "late", false); }));
  });
  loop_.run();
  ASSERT_FALSE(timed_out_);
  EXPECT_EQ(body_, "ping pong");
  EXPECT_EQ(events_, (std::vector<std::string>{"headers 200",
                                               "trailers grpc-status=0 "
                                               "request-trailers=1",
                                               "complete"}));
  EXPECT_EQ(client_->streams_in_flight(), 0u);
  EXPECT_EQ(stats_.counter("cluster.h2.upstream_rq_total").value(), 1u);
  EXPECT_EQ(stats_.counter("cluster.h2.upstream_cx_http2_total").value(), 1u);
}

TEST_F(AsyncHttpStreamTest, ManyStreamsShareOneConnection) {
  int done = 0;
  struct Counter : AsyncStreamCallbacks {
    int* done;
    event::EventLoop* loop;
    std::string body;
    void on_headers(http::HeaderMap&, bool) override {}
    void on_data(std::string_view d, bool) override { body.append(d); }
    void on_trailers(http::HeaderMap&) override {}
    void on_complete() override {
      if (++*done == 20) loop->stop();
    }
    void on_reset(std::string_view) override { loop->stop(); }
  };
  std::vector<std::unique_ptr<Counter>> streams;
  for (int i = 0; i < 20; ++i) {
    streams.push_back(std::make_unique<Counter>());
    streams.back()->done = &done;
    streams.back()->loop = &loop_;
    auto id = client_->start_stream("h2", request("/echo"), *streams.back(), {});
    ASSERT_TRUE(id.ok());
    client_->send_data(*id, "n" + std::to_string(i), true);
  }
  loop_.run();
  ASSERT_FALSE(timed_out_);
  EXPECT_EQ(done, 20);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(streams[i]->body, "n" + std::to_string(i));
  EXPECT_EQ(stats_.counter("cluster.h2.upstream_cx_http2_total").value(), 1u);
  EXPECT_EQ(sessions_.size(), 1u);
}

TEST_F(AsyncHttpStreamTest, NothingRunsAfterReset) {
  auto id = client_->start_stream("h2", request("/echo"), *this, {});
  ASSERT_TRUE(id.ok());
  client_->send_data(*id, "first", false);
  // Reset from inside the first callback (the response head): nothing follows.
  struct ResetOnHeaders : AsyncStreamCallbacks {
    AsyncHttpClient* client;
    uint64_t id = 0;
    std::vector<std::string>* events;
    event::EventLoop* loop;
    void on_headers(http::HeaderMap&, bool) override {
      events->push_back("headers");
      client->reset(id);
      client->reset(id);  // twice: ignored
      EXPECT_FALSE(client->send_data(id, "after reset", true));
      loop->add_timer(std::chrono::milliseconds(100), [l = loop] { l->stop(); });
    }
    void on_data(std::string_view, bool) override { events->push_back("data"); }
    void on_trailers(http::HeaderMap&) override { events->push_back("trailers"); }
    void on_complete() override { events->push_back("complete"); }
    void on_reset(std::string_view) override { events->push_back("reset"); }
  } cb;
  client_->reset(*id);  // the first one, before it started: never runs at all
  auto id2 = client_->start_stream("h2", request("/echo"), cb, {});
  ASSERT_TRUE(id2.ok());
  cb.client = client_.get();
  cb.id = *id2;
  cb.events = &events_;
  cb.loop = &loop_;
  client_->send_data(*id2, "x", false);
  loop_.run();
  ASSERT_FALSE(timed_out_);
  EXPECT_EQ(events_, std::vector<std::string>{"headers"});
  EXPECT_EQ(client_->streams_in_flight(), 0u);
  ASSERT_EQ(sessions_.size(), 1u);
  EXPECT_GE(sessions_[0]->resets, 1);  // the server saw the RST_STREAM
}

TEST_F(AsyncHttpStreamTest, ASenderFasterThanTheUpstreamIsRefusedPastTheBufferLimit) {
  // A plugin streaming into a server that reads nothing: once the stream's window is
  // spent, what it sends waits in weir, and past the buffer limit send_data refuses it.
  auto id = client_->start_stream("h2", request("/stalled"), *this, {});
  ASSERT_TRUE(id.ok());
  const std::string chunk(64 * 1024, 'x');
  size_t accepted = 0;
  std::function<void()> pump = [&] {
    if (!client_->send_data(*id, chunk, false)) {
      loop_.stop();
      return;
    }
    accepted += chunk.size();
    if (accepted > 64 * 1024 * 1024) {  // never refused: fail below
      loop_.stop();
      return;
    }
    loop_.add_timer(std::chrono::milliseconds(0), pump);
  };
  pump();
  loop_.run();
  ASSERT_FALSE(timed_out_);
  const size_t limit = clusters_->clusters().at("h2").config.per_connection_buffer_limit_bytes;
  EXPECT_GT(accepted, 64u * 1024);  // the window's worth went out
  EXPECT_LE(accepted, 2 * limit + 128 * 1024) << "buffered without bound";
  EXPECT_GE(stats_.counter("cluster.h2.upstream_flow_control_backed_up_total").value(), 1u);
  client_->reset(*id);
}

TEST_F(AsyncHttpStreamTest, TimeoutResetsTheStream) {
  auto id = client_->start_stream("h2", request("/silent"), *this, std::chrono::milliseconds(100));
  ASSERT_TRUE(id.ok());
  loop_.run();
  ASSERT_FALSE(timed_out_);
  EXPECT_EQ(events_, std::vector<std::string>{"reset timeout"});
  EXPECT_EQ(stats_.counter("cluster.h2.upstream_rq_timeout").value(), 1u);
}

TEST_F(AsyncHttpStreamTest, Http1AndUnknownClustersAreRefusedAtOnce) {
  auto h1 = client_->start_stream("h1", request("/echo"), *this, {});
  ASSERT_FALSE(h1.ok());
  EXPECT_NE(h1.error().find("streaming calls need an HTTP/2 cluster"), std::string::npos);
  auto unknown = client_->start_stream("nope", request("/echo"), *this, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("unknown cluster"), std::string::npos);
  EXPECT_EQ(client_->streams_in_flight(), 0u);
}

TEST_F(AsyncHttpStreamTest, RefusedConnectionEndsWithReset) {
  // A port bound and never listening refuses connections.
  acceptor_.reset();
  ::close(listen_fd_);
  listen_fd_ = -1;
  auto id = client_->start_stream("h2", request("/echo"), *this, {});
  ASSERT_TRUE(id.ok());
  client_->send_data(*id, "x", true);
  loop_.run();
  ASSERT_FALSE(timed_out_);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].rfind("reset ", 0), 0u) << events_[0];
}

}  // namespace
}  // namespace weir::proxy
