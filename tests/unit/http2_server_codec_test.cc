// The HTTP/2 server codec on hand-made client bytes: what the proxy sees of a request
// (the same map shape as the HTTP/1 parser's), and the limits that end a stream or the
// connection.
#include "http/http2_server_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace weir::http {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string out;
  const size_t n = payload.size();
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(stream >> shift);
  out.append(payload);
  return out;
}

// An HPACK literal field without indexing, literal name (RFC 7541 §6.2.2); short strings.
std::string literal(std::string_view name, std::string_view value) {
  std::string out(1, '\0');
  out += static_cast<char>(name.size());
  out.append(name);
  out += static_cast<char>(value.size());
  out.append(value);
  return out;
}

std::string request(std::vector<std::pair<std::string, std::string>> extra) {
  std::string block =
      literal(":method", "GET") + literal(":scheme", "http") + literal(":path", "/p");
  for (const auto& [k, v] : extra) block += literal(k, v);
  return block;
}

constexpr uint8_t kHeaders = 1, kSettings = 4, kEndStream = 1, kEndHeaders = 4;

struct Recorder : Http2ServerCodec::Visitor {
  std::string out;
  std::vector<HeaderMap> heads;
  std::vector<int32_t> resets;
  std::vector<Http2Event> events;
  void write(std::string_view bytes) override { out.append(bytes); }
  void on_request_headers(int32_t, HeaderMap& h, bool) override { heads.push_back(std::move(h)); }
  void on_request_data(int32_t, std::string_view, bool) override {}
  void on_request_trailers(int32_t, HeaderMap&) override {}
  void on_stream_reset(int32_t id, Http2ErrorCode) override { resets.push_back(id); }
  void on_stream_complete(int32_t) override {}
  void on_send_buffer_high(int32_t) override {}
  void on_send_buffer_low(int32_t) override {}
  void on_event(Http2Event e) override { events.push_back(e); }
};

std::string client_start() { return std::string(kPreface) + frame(kSettings, 0, 0, ""); }

TEST(Http2ServerCodecTest, HostBecomesAuthorityAndCookiesAreJoined) {
  Recorder r;
  Http2ServerCodec codec(r, Http2Options{});
  codec.start();
  const std::string block =
      request({{"host", "example.com"}, {"cookie", "a=1"}, {"cookie", "b=2"}});
  ASSERT_TRUE(codec.feed(client_start() + frame(kHeaders, kEndHeaders | kEndStream, 1, block)));
  ASSERT_EQ(r.heads.size(), 1u);
  const HeaderMap& h = r.heads[0];
  EXPECT_EQ(h.get(":authority"), "example.com");
  EXPECT_FALSE(h.get("host").has_value());
  EXPECT_EQ(h.get("cookie"), "a=1; b=2");
  EXPECT_EQ(h.get(":method"), "GET");
  EXPECT_EQ(h.get(":path"), "/p");
  // :authority, made from host, sits with the pseudo headers, before every regular field.
  bool regular_seen = false;
  for (const auto& [name, value] : h.entries()) {
    if (name[0] != ':') regular_seen = true;
    EXPECT_FALSE(regular_seen && name[0] == ':') << name << " after a regular field";
  }
}

TEST(Http2ServerCodecTest, HeaderListPastTheLimitResetsOnlyThatStream) {
  Recorder r;
  Http2Options options;
  options.max_headers = 5;
  Http2ServerCodec codec(r, options);
  codec.start();
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 10; ++i) many.emplace_back("x-h" + std::to_string(i), "v");
  std::string in = client_start() + frame(kHeaders, kEndHeaders | kEndStream, 1, request(many)) +
                   frame(kHeaders, kEndHeaders | kEndStream, 3, request({{":authority", "a"}}));
  ASSERT_TRUE(codec.feed(in));
  ASSERT_TRUE(codec.flush());
  ASSERT_EQ(r.heads.size(), 1u);  // stream 3 only
  EXPECT_EQ(r.heads[0].get(":authority"), "a");
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events[0], Http2Event::kHeaderOverflow);
}

TEST(Http2ServerCodecTest, BadPrefaceIsAConnectionError) {
  Recorder r;
  Http2ServerCodec codec(r, Http2Options{});
  codec.start();
  EXPECT_FALSE(codec.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  codec.flush();
  EXPECT_TRUE(codec.done());
}

TEST(Http2ServerCodecTest, EmptyDataFramesFlood) {
  Recorder r;
  Http2ServerCodec codec(r, Http2Options{});
  codec.start();
  std::string in = client_start() + frame(kHeaders, kEndHeaders, 1, request({{":authority", "a"}}));
  for (int i = 0; i < 3; ++i) in += frame(0 /* DATA */, 0, 1, "");
  EXPECT_FALSE(codec.feed(in));
  EXPECT_NE(std::find(r.events.begin(), r.events.end(), Http2Event::kInboundEmptyFramesFlood),
            r.events.end());
}

TEST(Http2ServerCodecTest, ReceivingHeadersSpansTheWholeHeaderBlock) {
  constexpr uint8_t kContinuation = 9, kPing = 6;
  Recorder r;
  Http2ServerCodec codec(r, Http2Options{});
  codec.start();
  ASSERT_TRUE(codec.feed(client_start()));
  EXPECT_FALSE(codec.receiving_headers());
  const std::string block = request({{"host", "example.com"}});
  const std::string headers = frame(kHeaders, kEndStream, 1, block.substr(0, 10));
  // Half a frame header says nothing yet; the rest of it starts a HEADERS frame.
  ASSERT_TRUE(codec.feed(headers.substr(0, 5)));
  EXPECT_FALSE(codec.receiving_headers());
  ASSERT_TRUE(codec.feed(headers.substr(5, 6)));
  EXPECT_TRUE(codec.receiving_headers());
  // The frame is whole but has no END_HEADERS: the block is still open.
  ASSERT_TRUE(codec.feed(headers.substr(11)));
  EXPECT_TRUE(codec.receiving_headers());
  const std::string last = frame(kContinuation, kEndHeaders, 1, block.substr(10));
  ASSERT_TRUE(codec.feed(last.substr(0, last.size() - 1)));
  EXPECT_TRUE(codec.receiving_headers());
  ASSERT_TRUE(codec.feed(last.substr(last.size() - 1)));
  EXPECT_FALSE(codec.receiving_headers());
  EXPECT_EQ(r.heads.size(), 1u);
  // Other frames are not header blocks, even half received.
  const std::string ping = frame(kPing, 0, 0, "12345678");
  ASSERT_TRUE(codec.feed(ping.substr(0, 12)));
  EXPECT_FALSE(codec.receiving_headers());
}

}  // namespace
}  // namespace weir::http
