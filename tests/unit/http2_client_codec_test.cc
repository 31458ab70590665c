// The HTTP/2 client codec talking to weir's server codec through memory: request and
// response heads, bodies and trailers both ways, the server's max_concurrent_streams,
// GOAWAY (streams above last_stream_id refused), resets and response-head limits.
#include "http/http2_client_codec.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "http/http2_server_codec.h"

namespace weir::http {
namespace {

struct Server : Http2ServerCodec::Visitor {
  std::string out;
  std::map<int32_t, HeaderMap> requests;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, HeaderMap> trailers;
  std::vector<int32_t> ended, resets;
  Http2ServerCodec* codec = nullptr;
  void write(std::string_view b) override { out.append(b); }
  void on_request_headers(int32_t id, HeaderMap& h, bool end) override {
    requests[id] = std::move(h);
    if (end) ended.push_back(id);
  }
  void on_request_data(int32_t id, std::string_view d, bool end) override {
    bodies[id].append(d);
    codec->consume(id, d.size());
    if (end) ended.push_back(id);
  }
  void on_request_trailers(int32_t id, HeaderMap& t) override {
    trailers[id] = std::move(t);
    ended.push_back(id);
  }
  void on_stream_reset(int32_t id, Http2ErrorCode) override { resets.push_back(id); }
  void on_stream_complete(int32_t) override {}
  void on_send_buffer_high(int32_t) override {}
  void on_send_buffer_low(int32_t) override {}
  void on_event(Http2Event) override {}
};

struct Client : Http2ClientCodec::Visitor {
  std::string out;
  std::map<int32_t, HeaderMap> heads;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, HeaderMap> trailers;
  std::vector<int32_t> complete;
  std::map<int32_t, bool> reset_refused;
  std::vector<Http2Event> events;
  int goaways = 0;
  Http2ClientCodec* codec = nullptr;
  void write(std::string_view b) override { out.append(b); }
  void on_response_headers(int32_t id, HeaderMap& h, bool) override { heads[id] = std::move(h); }
  void on_response_data(int32_t id, std::string_view d, bool) override {
    bodies[id].append(d);
    codec->consume(id, d.size());
  }
  void on_response_trailers(int32_t id, HeaderMap& t) override { trailers[id] = std::move(t); }
  void on_stream_reset(int32_t id, Http2ErrorCode, bool refused) override {
    reset_refused[id] = refused;
  }
  void on_stream_complete(int32_t id) override { complete.push_back(id); }
  void on_goaway(int32_t, Http2ErrorCode) override { ++goaways; }
  void on_event(Http2Event e) override { events.push_back(e); }
};

class Http2ClientCodecTest : public ::testing::Test {
 protected:
  explicit Http2ClientCodecTest(Http2Options server_options = {})
      : server_codec_(server_, server_options), client_codec_(client_, Http2Options{}) {
    server_.codec = &server_codec_;
    client_.codec = &client_codec_;
    server_codec_.start();
    client_codec_.start();
  }
  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int i = 0; i < 50; ++i) {
      client_codec_.flush();
      server_codec_.flush();
      if (client_.out.empty() && server_.out.empty()) return;
      std::string c = std::move(client_.out), s = std::move(server_.out);
      client_.out.clear();
      server_.out.clear();
      if (!c.empty()) server_codec_.feed(c);
      if (!s.empty()) client_codec_.feed(s);
    }
  }
  static HeaderMap request(std::string_view path) {
    HeaderMap h;
    h.add(":method", "POST");
    h.add(":scheme", "http");
    h.add(":path", path);
    h.add("host", "upstream.test");  // becomes :authority
    h.add("connection", "keep-alive");
    h.add("te", "trailers");
    h.add("x-field", "1");
    return h;
  }
  void respond(int32_t id, bool with_trailers) {
    HeaderMap h;
    h.add(":status", "200");
    server_codec_.send_headers(id, h, false);
    server_codec_.send_data(id, "response body", !with_trailers);
    if (with_trailers) {
      HeaderMap t;
      t.add("grpc-status", "0");
      server_codec_.send_trailers(id, t);
    }
  }

  Server server_;
  Client client_;
  Http2ServerCodec server_codec_;
  Http2ClientCodec client_codec_;
};

TEST_F(Http2ClientCodecTest, RequestAndResponseWithBodiesAndTrailers) {
  const int32_t id = client_codec_.submit_request(request("/grpc"), false);
  ASSERT_EQ(id, 1);
  client_codec_.send_data(id, "request body", false);
  HeaderMap t;
  t.add("x-request-trailer", "yes");
  client_codec_.send_trailers(id, t);
  pump();
  ASSERT_TRUE(server_.requests.count(id));
  const HeaderMap& seen = server_.requests[id];
  EXPECT_EQ(seen.get(":authority"), "upstream.test");
  EXPECT_EQ(seen.get(":path"), "/grpc");
  EXPECT_EQ(seen.get("te"), "trailers");
  EXPECT_EQ(seen.get("x-field"), "1");
  EXPECT_FALSE(seen.get("connection"));
  EXPECT_FALSE(seen.get("host"));
  EXPECT_EQ(server_.bodies[id], "request body");
  EXPECT_EQ(server_.trailers[id].get("x-request-trailer"), "yes");
  respond(id, true);
  pump();
  EXPECT_EQ(client_.heads[id].get(":status"), "200");
  EXPECT_EQ(client_.bodies[id], "response body");
  EXPECT_EQ(client_.trailers[id].get("grpc-status"), "0");
  EXPECT_EQ(client_.complete, std::vector<int32_t>{id});
  EXPECT_EQ(client_codec_.open_streams(), 0u);
}

class Http2ClientCodecLimitTest : public Http2ClientCodecTest {
 protected:
  static Http2Options two_streams() {
    Http2Options o;
    o.max_concurrent_streams = 2;
    return o;
  }
  Http2ClientCodecLimitTest() : Http2ClientCodecTest(two_streams()) {}
};

TEST_F(Http2ClientCodecLimitTest, ServerMaxConcurrentStreamsHoldsTheRestBack) {
  pump();  // SETTINGS both ways
  EXPECT_TRUE(client_codec_.settings_received());
  EXPECT_EQ(client_codec_.peer_max_concurrent_streams(), 2u);
  std::vector<int32_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(client_codec_.submit_request(request("/"), true));
  pump();
  EXPECT_EQ(server_.requests.size(), 2u);  // the others wait in the client
  EXPECT_TRUE(server_.resets.empty());
  for (int round = 0; round < 3; ++round) {
    for (auto& [id, h] : server_.requests) {
      if (!client_.heads.count(id)) respond(id, false);
    }
    pump();
  }
  EXPECT_EQ(client_.complete.size(), 5u);
}

TEST_F(Http2ClientCodecTest, GoawayRefusesStreamsAboveItsLastStreamId) {
  pump();
  const int32_t a = client_codec_.submit_request(request("/a"), true);
  pump();
  // The server goes away after stream a; b crosses the GOAWAY.
  server_codec_.goaway();
  const int32_t b = client_codec_.submit_request(request("/b"), true);
  pump();
  EXPECT_EQ(client_.goaways, 1);
  EXPECT_TRUE(client_codec_.goaway_received());
  ASSERT_TRUE(client_.reset_refused.count(b));
  EXPECT_TRUE(client_.reset_refused[b]);  // never processed: may be retried elsewhere
  EXPECT_EQ(client_codec_.submit_request(request("/c"), true), -1);
  respond(a, false);
  pump();
  EXPECT_EQ(client_.complete, std::vector<int32_t>{a});
}

TEST_F(Http2ClientCodecTest, ServerResetAndOversizedHeadEndTheStreamOnly) {
  const int32_t a = client_codec_.submit_request(request("/a"), true);
  const int32_t b = client_codec_.submit_request(request("/b"), true);
  const int32_t c = client_codec_.submit_request(request("/c"), true);
  pump();
  server_codec_.reset_stream(a, Http2ErrorCode::kInternalError);
  HeaderMap huge;
  huge.add(":status", "200");
  // More fields than max_headers (100), under the header list size the server respects.
  for (int i = 0; i < 120; ++i) huge.add("x-h" + std::to_string(i), std::string(100, 'h'));
  server_codec_.send_headers(b, huge, true);
  respond(c, false);
  pump();
  ASSERT_TRUE(client_.reset_refused.count(a));
  EXPECT_FALSE(client_.reset_refused[a]);
  ASSERT_TRUE(client_.reset_refused.count(b));
  EXPECT_FALSE(client_.heads.count(b));
  EXPECT_NE(std::find(client_.events.begin(), client_.events.end(), Http2Event::kHeaderOverflow),
            client_.events.end());
  EXPECT_EQ(client_.complete, std::vector<int32_t>{c});
  EXPECT_FALSE(client_codec_.failed());
}

TEST_F(Http2ClientCodecTest, GarbageFromTheServerFailsTheConnection) {
  client_codec_.submit_request(request("/"), true);
  client_codec_.flush();
  client_codec_.feed("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  client_codec_.flush();
  EXPECT_TRUE(client_codec_.failed());
}

}  // namespace
}  // namespace weir::http
