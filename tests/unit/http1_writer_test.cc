#include "http/http1_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "http/http1_parser.h"

namespace weir::http {
namespace {

HeaderMap make_headers(std::initializer_list<HeaderMap::Entry> fields) {
  HeaderMap map;
  for (const auto& [name, value] : fields) {
    map.add(name, value);
  }
  return map;
}

TEST(Http1WriterTest, RequestHead) {
  const HeaderMap headers = make_headers({{":method", "POST"},
                                          {":path", "/submit?x=1"},
                                          {":authority", "example.com:8080"},
                                          {":scheme", "http"},
                                          {"content-type", "text/plain"},
                                          {"x-dup", "1"},
                                          {"x-dup", "2"},
                                          {"content-length", "5"}});
  std::string out;
  write_request_head(headers, out);
  EXPECT_EQ(out,
            "POST /submit?x=1 HTTP/1.1\r\n"
            "host: example.com:8080\r\n"
            "content-type: text/plain\r\n"
            "x-dup: 1\r\n"
            "x-dup: 2\r\n"
            "content-length: 5\r\n"
            "\r\n");
}

TEST(Http1WriterTest, RequestHeadKeepsExistingHostField) {
  const HeaderMap headers = make_headers(
      {{":method", "GET"}, {":path", "/"}, {":authority", "ignored"}, {"host", "kept"}});
  std::string out;
  write_request_head(headers, out);
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nhost: kept\r\n\r\n");
}

TEST(Http1WriterTest, RequestHeadWithoutAuthority) {
  std::string out;
  write_request_head(make_headers({{":method", "OPTIONS"}, {":path", "*"}}), out);
  EXPECT_EQ(out, "OPTIONS * HTTP/1.1\r\n\r\n");
}

TEST(Http1WriterTest, AppendsToOutput) {
  std::string out = "previous";
  write_request_head(make_headers({{":method", "GET"}, {":path", "/"}}), out);
  EXPECT_EQ(out, "previousGET / HTTP/1.1\r\n\r\n");
}

TEST(Http1WriterTest, ResponseHead) {
  std::string out;
  write_response_head(
      make_headers({{":status", "404"}, {"content-length", "0"}, {"server", "weir"}}), out);
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\n"
            "content-length: 0\r\n"
            "server: weir\r\n"
            "\r\n");
}

TEST(Http1WriterTest, ResponseHeadUnknownAndMissingStatus) {
  std::string out;
  write_response_head(make_headers({{":status", "299"}}), out);
  EXPECT_EQ(out, "HTTP/1.1 299 Unknown\r\n\r\n");
  out.clear();
  write_response_head(make_headers({{"x", "y"}}), out);
  EXPECT_EQ(out, "HTTP/1.1 500 Internal Server Error\r\nx: y\r\n\r\n");
  out.clear();
  write_response_head(make_headers({{":status", "20x"}}), out);
  EXPECT_EQ(out, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
}

TEST(Http1WriterTest, LineBreaksInValuesAreDropped) {
  // A plugin-set value must not be able to add fields or end the head.
  std::string out;
  write_response_head(
      make_headers({{":status", "200"}, {"x-evil", "a\r\nset-cookie: b\r\n\r\nbody"}}), out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nx-evil: aset-cookie: bbody\r\n\r\n");
  out.clear();
  write_request_head(make_headers({{":method", "GET"}, {":path", "/a\r\nx: y"}}), out);
  EXPECT_EQ(out, "GET /ax: y HTTP/1.1\r\n\r\n");
}

// Values are checked a word at a time: a line break at any offset, in a word or in the
// tail, is dropped, and other low bytes (HTAB, VT) stay.
TEST(Http1WriterTest, LineBreaksDroppedAtEveryOffset) {
  const std::string all = "abcdefghij\tklmnopqrst\x0buvwxyz0123456789";
  for (size_t length = 0; length <= all.size(); ++length) {
    const std::string clean = all.substr(0, length);
    std::string out;
    write_response_head(make_headers({{":status", "200"}, {"x", clean}}), out);
    EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nx: " + clean + "\r\n\r\n");
  }
  for (char bad : {'\r', '\n', '\0'}) {
    for (size_t at = 0; at <= all.size(); ++at) {
      for (size_t length : {size_t{3}, size_t{5}, size_t{8}, size_t{13}, all.size()}) {
        if (at > length) continue;
        const std::string clean = all.substr(0, length);
        std::string value = clean;
        value.insert(at, 1, bad);
        std::string out;
        write_response_head(make_headers({{":status", "200"}, {"x", value}}), out);
        EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nx: " + clean + "\r\n\r\n")
            << "byte " << int(bad) << " at " << at;
      }
    }
  }
}

TEST(Http1WriterTest, Chunks) {
  std::string out;
  write_chunk("hello", out);
  write_chunk("", out);
  write_chunk(std::string(26, 'x'), out);
  write_last_chunk(nullptr, out);
  EXPECT_EQ(out, "5\r\nhello\r\n1a\r\n" + std::string(26, 'x') + "\r\n0\r\n\r\n");
}

TEST(Http1WriterTest, LastChunkWithTrailers) {
  std::string out;
  const HeaderMap trailers = make_headers({{"grpc-status", "0"}, {"grpc-message", "ok"}});
  write_last_chunk(&trailers, out);
  EXPECT_EQ(out, "0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n");
}

TEST(Http1WriterTest, ReasonPhrases) {
  EXPECT_EQ(reason_phrase(100), "Continue");
  EXPECT_EQ(reason_phrase(101), "Switching Protocols");
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(204), "No Content");
  EXPECT_EQ(reason_phrase(206), "Partial Content");
  EXPECT_EQ(reason_phrase(301), "Moved Permanently");
  EXPECT_EQ(reason_phrase(304), "Not Modified");
  EXPECT_EQ(reason_phrase(308), "Permanent Redirect");
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(500), "Internal Server Error");
  EXPECT_EQ(reason_phrase(502), "Bad Gateway");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(420), "Unknown");
  EXPECT_EQ(reason_phrase(599), "Unknown");
  EXPECT_EQ(reason_phrase(0), "Unknown");
  for (int status = 100; status < 600; ++status) {
    EXPECT_FALSE(reason_phrase(status).empty());
  }
}

std::vector<HeaderMap::Entry> stripped(std::initializer_list<HeaderMap::Entry> fields) {
  HeaderMap headers = make_headers(fields);
  strip_hop_by_hop_headers(headers);
  return {headers.entries().begin(), headers.entries().end()};
}

using Fields = std::vector<HeaderMap::Entry>;

TEST(Http1WriterTest, StripsHopByHopFields) {
  EXPECT_EQ(stripped({{":method", "GET"},
                      {"connection", "keep-alive"},
                      {"keep-alive", "timeout=5"},
                      {"proxy-connection", "keep-alive"},
                      {"transfer-encoding", "chunked"},
                      {"upgrade", "websocket"},
                      {"te", "gzip"},
                      {"accept", "*/*"}}),
            (Fields{{":method", "GET"}, {"accept", "*/*"}}));
}

TEST(Http1WriterTest, StripsFieldsNamedByConnection) {
  EXPECT_EQ(stripped({{"connection", "X-Foo, close"},
                      {"x-foo", "1"},
                      {"x-bar", "2"},
                      {"connection", " x-bar ,,"},
                      {"close", "odd but named"},
                      {"x-kept", "3"}}),
            (Fields{{"x-kept", "3"}}));
}

TEST(Http1WriterTest, ConnectionCannotStripRoutingOrFraming) {
  EXPECT_EQ(stripped({{":authority", "a"},
                      {"connection", "host, content-length, :authority, x-a"},
                      {"host", "a"},
                      {"content-length", "3"},
                      {"x-a", "gone"}}),
            (Fields{{":authority", "a"}, {"host", "a"}, {"content-length", "3"}}));
}

TEST(Http1WriterTest, KeepsTeTrailers) {
  EXPECT_EQ(stripped({{"te", "trailers"}, {"x", "1"}}), (Fields{{"te", "trailers"}, {"x", "1"}}));
  // Only the trailers part of a TE list goes on, even when Connection names te.
  EXPECT_EQ(stripped({{"connection", "te"}, {"te", "gzip, Trailers"}}),
            (Fields{{"te", "trailers"}}));
  EXPECT_EQ(stripped({{"te", "gzip"}, {"te", "deflate"}}), Fields{});
}

TEST(Http1WriterTest, NothingToStrip) {
  EXPECT_EQ(stripped({{":status", "200"}, {"content-length", "0"}}),
            (Fields{{":status", "200"}, {"content-length", "0"}}));
}

// Forwarding writes a request straight from its map: the same bytes as copying the map,
// stripping it, setting this hop's fields and writing it, and the map is left untouched.
TEST(Http1WriterTest, ForwardedHeadEqualsStrippedCopy) {
  const std::vector<Fields> maps = {
      {{":method", "GET"}, {":path", "/"}, {":authority", "a"}, {"accept", "*/*"}},
      {{":method", "POST"},
       {":path", "/p"},
       {":authority", "a"},
       {"connection", "X-Foo, keep-alive, close"},
       {"x-foo", "1"},
       {"keep-alive", "5"},
       {"content-length", "3"},
       {"te", "gzip, trailers"},
       {"close", "named"},
       {"te", "x"},
       {"transfer-encoding", "chunked"},
       {"x-kept", "\r\nevil"}},
      {{":method", "GET"},
       {":path", "/"},
       {"connection", "te, upgrade"},
       {"te", "trailers"},
       {"upgrade", "websocket"},
       {"host", "h"}},
      {{":method", "GET"}, {":path", "/"}, {"te", "gzip"}, {"proxy-connection", "x"}},
  };
  const std::vector<std::pair<std::string_view, std::vector<Field>>> hops = {
      {"", {}},
      {"content-length", {{"transfer-encoding", "chunked"}}},
      {"", {{"connection", "upgrade"}, {"upgrade", "websocket"}}},
  };
  for (const Fields& fields : maps) {
    const HeaderMap original = [&] {
      HeaderMap map;
      for (const auto& [name, value] : fields) map.add(name, value);
      return map;
    }();
    for (const auto& [drop, append] : hops) {
      HeaderMap copy = original;
      strip_hop_by_hop_headers(copy);
      if (!drop.empty()) copy.remove(drop);
      for (const auto& [name, value] : append) copy.set(name, value);
      std::string expected;
      write_request_head(copy, expected);
      std::string out;
      write_forwarded_request_head(original, drop, append, out);
      EXPECT_EQ(out, expected);
    }
    EXPECT_TRUE(std::ranges::equal(original.entries(), fields));
  }
}

// The writer is the parser's inverse: what it writes parses back to the same map.
TEST(Http1WriterTest, RoundTripsThroughParser) {
  struct Capture : Http1Visitor {
    HeaderMap headers;
    void on_headers(HeaderMap& h, const MessageHead&, bool) override { headers = std::move(h); }
    void on_body(std::string_view, bool) override {}
    void on_trailers(HeaderMap&) override {}
    void on_message_complete() override {}
  } capture;
  const HeaderMap original = make_headers({{":method", "PUT"},
                                           {":path", "/a/b?c=d"},
                                           {":authority", "h.example"},
                                           {":scheme", "http"},
                                           {"x-one", "1"},
                                           {"x-two", "two words"},
                                           {"content-length", "0"}});
  std::string wire;
  write_request_head(original, wire);
  Http1Parser parser(MessageType::Request, capture);
  EXPECT_EQ(parser.feed(wire), wire.size());
  EXPECT_TRUE(std::ranges::equal(capture.headers.entries(), original.entries()));
}

}  // namespace
}  // namespace weir::http
