#include "http/http1_parser.h"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace weir::http {
namespace {

// Everything the parser reports, as one message per entry, so tests compare whole
// outcomes and feeding strategies can be checked against each other.
struct Message {
  std::vector<HeaderMap::Entry> headers;
  MessageHead head;
  bool headers_end_stream = false;
  std::string body;
  int body_calls = 0;
  bool body_end_stream = false;
  std::vector<HeaderMap::Entry> trailers;
  bool complete = false;
};

class RecordingVisitor : public Http1Visitor {
 public:
  void on_headers(HeaderMap& headers, const MessageHead& head, bool end_stream) override {
    EXPECT_TRUE(messages.empty() || messages.back().complete) << "headers inside a message";
    Message& m = messages.emplace_back();
    m.headers.assign(headers.entries().begin(), headers.entries().end());
    m.head = head;
    m.headers_end_stream = end_stream;
    ended = end_stream;
  }
  void on_body(std::string_view data, bool end_stream) override {
    ASSERT_FALSE(messages.empty());
    EXPECT_FALSE(ended) << "body after end_stream";
    Message& m = messages.back();
    m.body.append(data);
    ++m.body_calls;
    m.body_end_stream = end_stream;
    ended = end_stream;
  }
  void on_trailers(HeaderMap& trailers) override {
    ASSERT_FALSE(messages.empty());
    EXPECT_FALSE(ended) << "trailers after end_stream";
    EXPECT_FALSE(trailers.empty());
    messages.back().trailers.assign(trailers.entries().begin(), trailers.entries().end());
    ended = true;
  }
  void on_message_complete() override {
    ASSERT_FALSE(messages.empty());
    EXPECT_TRUE(ended) << "complete before end_stream";
    messages.back().complete = true;
    ended = false;
    if (on_complete) {
      on_complete();
    }
  }

  std::vector<Message> messages;
  bool ended = false;
  std::function<void()> on_complete;
};

using Fields = std::vector<HeaderMap::Entry>;

std::string_view value_of(const Message& m, std::string_view name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) {
      return v;
    }
  }
  return "<absent>";
}

// Feeds everything, resuming whenever the parser pauses; returns the bytes consumed.
size_t feed_all(Http1Parser& parser, std::string_view data) {
  size_t consumed = 0;
  while (consumed < data.size()) {
    const size_t n = parser.feed(data.substr(consumed));
    consumed += n;
    if (parser.has_error()) {
      break;
    }
    if (parser.paused()) {
      parser.resume();
    } else if (n == 0) {
      ADD_FAILURE() << "feed made no progress";
      break;
    }
  }
  return consumed;
}

size_t feed_bytewise(Http1Parser& parser, std::string_view data) {
  size_t consumed = 0;
  for (size_t i = 0; i < data.size() && !parser.has_error(); ++i) {
    consumed += feed_all(parser, data.substr(i, 1));
  }
  return consumed;
}

constexpr std::string_view kSimpleGet =
    "GET /index.html?q=1 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: test\r\n"
    "Accept: */*\r\n"
    "\r\n";

TEST(Http1ParserTest, SimpleGet) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_EQ(parser.feed(kSimpleGet), kSimpleGet.size());
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u);
  const Message& m = v.messages[0];
  EXPECT_EQ(m.headers, (Fields{{":method", "GET"},
                               {":path", "/index.html?q=1"},
                               {":authority", "example.com"},
                               {":scheme", "http"},
                               {"user-agent", "test"},
                               {"accept", "*/*"}}));
  EXPECT_TRUE(m.headers_end_stream);
  EXPECT_EQ(m.body_calls, 0);
  EXPECT_TRUE(m.complete);
  EXPECT_EQ(m.head.http_major, 1);
  EXPECT_EQ(m.head.http_minor, 1);
  EXPECT_TRUE(m.head.keep_alive);
  EXPECT_FALSE(m.head.chunked);
  EXPECT_FALSE(m.head.has_content_length);
  EXPECT_FALSE(m.head.expect_continue);
  EXPECT_FALSE(m.head.upgrade);
}

TEST(Http1ParserTest, SimpleGetBytewiseMatchesWhole) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_EQ(feed_bytewise(parser, kSimpleGet), kSimpleGet.size());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(value_of(v.messages[0], ":path"), "/index.html?q=1");
  EXPECT_EQ(value_of(v.messages[0], ":authority"), "example.com");
  EXPECT_TRUE(v.messages[0].complete);
}

TEST(Http1ParserTest, NoHostMeansNoAuthority) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(v.messages[0].headers,
            (Fields{{":method", "GET"}, {":path", "/"}, {":scheme", "http"}}));
}

TEST(Http1ParserTest, HeaderNamesLoweredValuesTrimmedRepeatsKept) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser,
           "GET / HTTP/1.1\r\n"
           "Host: h\r\n"
           "X-Multi: a\r\n"
           "Empty:\r\n"
           "X-Spaces: \t padded value \t \r\n"
           "x-multi: b\r\n"
           "\r\n");
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(v.messages[0].headers, (Fields{{":method", "GET"},
                                           {":path", "/"},
                                           {":authority", "h"},
                                           {":scheme", "http"},
                                           {"x-multi", "a"},
                                           {"empty", ""},
                                           {"x-spaces", "padded value"},
                                           {"x-multi", "b"}}));
}

constexpr std::string_view kPost =
    "POST /upload HTTP/1.1\r\n"
    "Host: h\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "hello world";

TEST(Http1ParserTest, PostBodySplitAtEveryByte) {
  for (size_t split = 0; split <= kPost.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    EXPECT_EQ(parser.feed(kPost.substr(0, split)), split);
    EXPECT_EQ(parser.feed(kPost.substr(split)), kPost.size() - split);
    ASSERT_FALSE(parser.has_error()) << parser.error().reason;
    ASSERT_EQ(v.messages.size(), 1u);
    const Message& m = v.messages[0];
    EXPECT_FALSE(m.headers_end_stream);
    EXPECT_TRUE(m.head.has_content_length);
    EXPECT_EQ(m.head.content_length, 11u);
    EXPECT_EQ(m.body, "hello world");
    // The last piece of a content-length body carries end_stream itself.
    EXPECT_TRUE(m.body_end_stream);
    EXPECT_EQ(m.body_calls, split > kPost.size() - 11 && split < kPost.size() ? 2 : 1);
    EXPECT_TRUE(m.complete);
  }
}

TEST(Http1ParserTest, PostBodyBytewise) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_EQ(feed_bytewise(parser, kPost), kPost.size());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(v.messages[0].body, "hello world");
  EXPECT_EQ(v.messages[0].body_calls, 11);
  EXPECT_TRUE(v.messages[0].complete);
}

TEST(Http1ParserTest, ContentLengthZeroEndsAtHeaders) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  EXPECT_TRUE(v.messages[0].head.has_content_length);
  EXPECT_EQ(v.messages[0].body_calls, 0);
  EXPECT_TRUE(v.messages[0].complete);
}

constexpr std::string_view kChunkedWithTrailers =
    "POST /c HTTP/1.1\r\n"
    "Host: h\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;ext=1\r\nhello\r\n"
    "6\r\n world\r\n"
    "0\r\n"
    "X-Checksum: abc\r\n"
    "X-Other:  two \r\n"
    "\r\n";

TEST(Http1ParserTest, ChunkedWithTrailers) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_EQ(parser.feed(kChunkedWithTrailers), kChunkedWithTrailers.size());
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u);
  const Message& m = v.messages[0];
  EXPECT_TRUE(m.head.chunked);
  EXPECT_FALSE(m.headers_end_stream);
  EXPECT_EQ(m.body, "hello world");
  EXPECT_FALSE(m.body_end_stream) << "trailers carry the end";
  EXPECT_EQ(m.trailers, (Fields{{"x-checksum", "abc"}, {"x-other", "two"}}));
  EXPECT_TRUE(m.complete);
}

TEST(Http1ParserTest, ChunkedWithTrailersBytewise) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_EQ(feed_bytewise(parser, kChunkedWithTrailers), kChunkedWithTrailers.size());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(v.messages[0].body, "hello world");
  EXPECT_EQ(v.messages[0].trailers, (Fields{{"x-checksum", "abc"}, {"x-other", "two"}}));
}

TEST(Http1ParserTest, ChunkedWithoutTrailersEndsWithEmptyBody) {
  std::vector<std::pair<std::string, bool>> pieces;
  struct PieceVisitor : RecordingVisitor {
    std::vector<std::pair<std::string, bool>>* pieces;
    void on_body(std::string_view data, bool end_stream) override {
      pieces->emplace_back(std::string(data), end_stream);
      RecordingVisitor::on_body(data, end_stream);
    }
  } pv;
  pv.pieces = &pieces;
  Http1Parser p2(MessageType::Request, pv);
  feed_all(p2,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(pv.messages.size(), 1u);
  EXPECT_TRUE(pv.messages[0].complete);
  EXPECT_TRUE(pv.messages[0].trailers.empty());
  EXPECT_EQ(pieces, (std::vector<std::pair<std::string, bool>>{{"abc", false}, {"", true}}));
}

constexpr std::string_view kThreeRequests =
    "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
    "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";

TEST(Http1ParserTest, PipelinedWithoutPause) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_EQ(parser.feed(kThreeRequests), kThreeRequests.size());
  ASSERT_EQ(v.messages.size(), 3u);
  EXPECT_EQ(value_of(v.messages[0], ":path"), "/1");
  EXPECT_EQ(value_of(v.messages[1], ":path"), "/2");
  EXPECT_EQ(v.messages[1].body, "xyz");
  EXPECT_EQ(value_of(v.messages[2], ":path"), "/3");
}

TEST(Http1ParserTest, PipelinedPauseAndResume) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  parser.pause_after_message(true);
  std::string_view rest = kThreeRequests;

  size_t n = parser.feed(rest);
  EXPECT_EQ(n, std::string_view("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n").size());
  EXPECT_TRUE(parser.paused());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_TRUE(v.messages[0].complete);
  rest.remove_prefix(n);
  EXPECT_EQ(parser.feed(rest), 0u) << "nothing consumed while paused";
  EXPECT_EQ(v.messages.size(), 1u);

  parser.resume();
  EXPECT_FALSE(parser.paused());
  n = parser.feed(rest);
  EXPECT_TRUE(parser.paused());
  ASSERT_EQ(v.messages.size(), 2u);
  EXPECT_EQ(v.messages[1].body, "xyz");
  rest.remove_prefix(n);
  EXPECT_EQ(rest, "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n");

  parser.resume();
  EXPECT_EQ(parser.feed(rest), rest.size());
  EXPECT_TRUE(parser.paused());
  ASSERT_EQ(v.messages.size(), 3u);
  EXPECT_EQ(value_of(v.messages[2], ":path"), "/3");
  parser.resume();
  EXPECT_FALSE(parser.has_error());
}

TEST(Http1ParserTest, PauseRequestedFromOnMessageComplete) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  v.on_complete = [&] { parser.pause_after_message(true); };
  const size_t n = parser.feed(kThreeRequests);
  EXPECT_EQ(n, std::string_view("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n").size());
  EXPECT_TRUE(parser.paused());
  EXPECT_EQ(v.messages.size(), 1u);
}

TEST(Http1ParserTest, PipelinedBytewiseWithPause) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  parser.pause_after_message(true);
  EXPECT_EQ(feed_bytewise(parser, kThreeRequests), kThreeRequests.size());
  ASSERT_EQ(v.messages.size(), 3u);
  EXPECT_EQ(v.messages[1].body, "xyz");
}

TEST(Http1ParserTest, Http10KeepAliveSemantics) {
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    feed_all(parser, "GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(v.messages.size(), 1u);
    EXPECT_EQ(v.messages[0].head.http_minor, 0);
    EXPECT_FALSE(v.messages[0].head.keep_alive);
  }
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    feed_all(parser, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_EQ(v.messages.size(), 1u);
    EXPECT_TRUE(v.messages[0].head.keep_alive);
  }
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    feed_all(parser, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(v.messages.size(), 1u);
    EXPECT_FALSE(v.messages[0].head.keep_alive);
  }
}

TEST(Http1ParserTest, BytesAfterConnectionEndingMessageAreDropped) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string_view data = "GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(parser.feed(data), data.size());
  EXPECT_FALSE(parser.has_error());
  EXPECT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(parser.feed("more"), 4u);
  EXPECT_EQ(v.messages.size(), 1u);
}

TEST(Http1ParserTest, ExpectContinue) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser,
           "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_TRUE(v.messages[0].head.expect_continue);
  EXPECT_FALSE(v.messages[0].complete);
  feed_all(parser, "ok");
  EXPECT_TRUE(v.messages[0].complete);
}

TEST(Http1ParserTest, UpgradePausesAfterMessage) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string_view upgrade =
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string data = std::string(upgrade) + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(parser.feed(data), upgrade.size());
  EXPECT_TRUE(parser.paused());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_TRUE(v.messages[0].head.upgrade);
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  // Upgrade refused: carry on with HTTP.
  parser.resume();
  EXPECT_EQ(parser.feed(std::string_view(data).substr(upgrade.size())),
            data.size() - upgrade.size());
  ASSERT_EQ(v.messages.size(), 2u);
  EXPECT_FALSE(v.messages[1].head.upgrade);
}

TEST(Http1ParserTest, ConnectPausesAndHasNoBody) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string_view connect =
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
  const std::string data = std::string(connect) + "\x16\x03\x01";
  EXPECT_EQ(parser.feed(data), connect.size());
  EXPECT_TRUE(parser.paused());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(value_of(v.messages[0], ":method"), "CONNECT");
  EXPECT_EQ(value_of(v.messages[0], ":path"), "example.com:443");
  EXPECT_TRUE(v.messages[0].head.upgrade);
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  EXPECT_TRUE(v.messages[0].complete);
}

TEST(Http1ParserTest, EmptyFeedIsNotEof) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  feed_all(parser, "HTTP/1.1 200 OK\r\n\r\nabc");
  EXPECT_EQ(parser.feed(""), 0u);
  EXPECT_FALSE(parser.has_error());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_FALSE(v.messages[0].complete);
}

TEST(Http1ParserTest, HeadResponseHasNoBody) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  parser.expect_no_body(true);
  const std::string_view head_response = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  const std::string data =
      std::string(head_response) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  EXPECT_EQ(parser.feed(data), data.size());
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 2u);
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  EXPECT_TRUE(v.messages[0].head.keep_alive);
  EXPECT_EQ(v.messages[0].head.content_length, 1234u);
  EXPECT_EQ(value_of(v.messages[0], ":status"), "200");
  EXPECT_TRUE(v.messages[0].complete);
  // expect_no_body applied to one response only.
  EXPECT_FALSE(v.messages[1].headers_end_stream);
  EXPECT_EQ(v.messages[1].body, "hi");
}

TEST(Http1ParserTest, HeadResponseWithoutLengthKeepsConnection) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  parser.expect_no_body(true);
  feed_all(parser, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_TRUE(v.messages[0].complete);
  EXPECT_TRUE(v.messages[0].head.keep_alive);
}

TEST(Http1ParserTest, NoContentAndNotModifiedHaveNoBody) {
  for (std::string_view status : {"204 No Content", "304 Not Modified"}) {
    SCOPED_TRACE(status);
    RecordingVisitor v;
    Http1Parser parser(MessageType::Response, v);
    // Even a (wrong) content-length or chunked does not give them a body.
    const std::string data = "HTTP/1.1 " + std::string(status) +
                             "\r\nContent-Length: 5\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    EXPECT_EQ(parser.feed(data), data.size());
    ASSERT_FALSE(parser.has_error()) << parser.error().reason;
    ASSERT_EQ(v.messages.size(), 2u);
    EXPECT_TRUE(v.messages[0].headers_end_stream);
    EXPECT_EQ(v.messages[0].body_calls, 0);
    EXPECT_TRUE(v.messages[0].complete);
    EXPECT_EQ(v.messages[1].body, "x");
  }
}

TEST(Http1ParserTest, ResponseDelimitedByClose) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  feed_all(parser, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome ");
  feed_all(parser, "data");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_FALSE(v.messages[0].head.keep_alive);
  EXPECT_FALSE(v.messages[0].headers_end_stream);
  EXPECT_FALSE(v.messages[0].complete);
  EXPECT_FALSE(v.messages[0].body_end_stream);
  parser.feed_eof();
  EXPECT_FALSE(parser.has_error());
  EXPECT_EQ(v.messages[0].body, "some data");
  EXPECT_TRUE(v.messages[0].body_end_stream) << "an empty on_body ends it";
  EXPECT_EQ(v.messages[0].body_calls, 3);
  EXPECT_TRUE(v.messages[0].complete);
}

TEST(Http1ParserTest, EofAtMessageBoundaryIsClean) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  feed_all(parser, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  parser.feed_eof();
  EXPECT_FALSE(parser.has_error());
  EXPECT_EQ(v.messages.size(), 1u);
}

TEST(Http1ParserTest, EofMidMessageIsAnError) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
  parser.feed_eof();
  EXPECT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 400);
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_FALSE(v.messages[0].complete);
}

TEST(Http1ParserTest, EofInsideAHeadIsAnError) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  feed_all(parser, "HTTP/1.1 200 OK\r\nContent-Le");
  parser.feed_eof();
  EXPECT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 502);
  EXPECT_TRUE(v.messages.empty());
}

TEST(Http1ParserTest, ContinueThenFinalResponse) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  const std::string_view data =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone";
  EXPECT_EQ(feed_bytewise(parser, data), data.size());
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 2u);
  EXPECT_EQ(value_of(v.messages[0], ":status"), "100");
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  EXPECT_TRUE(v.messages[0].complete);
  EXPECT_EQ(value_of(v.messages[1], ":status"), "200");
  EXPECT_EQ(v.messages[1].body, "done");
  EXPECT_TRUE(v.messages[1].complete);
}

TEST(Http1ParserTest, ExpectNoBodySurvivesInformationalResponse) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  parser.expect_no_body(true);
  feed_all(parser,
           "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
  ASSERT_EQ(v.messages.size(), 2u);
  EXPECT_TRUE(v.messages[1].headers_end_stream);
  EXPECT_TRUE(v.messages[1].complete);
}

TEST(Http1ParserTest, ChunkedResponseAcrossFeeds) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  const std::string_view data =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "a\r\n0123456789\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  for (size_t split = 0; split <= data.size(); ++split) {
    RecordingVisitor sv;
    Http1Parser sp(MessageType::Response, sv);
    feed_all(sp, data.substr(0, split));
    feed_all(sp, data.substr(split));
    ASSERT_EQ(sv.messages.size(), 1u) << split;
    EXPECT_EQ(sv.messages[0].body, "01234567890123456789abcdef") << split;
    EXPECT_TRUE(sv.messages[0].body_end_stream) << split;
    EXPECT_TRUE(sv.messages[0].complete) << split;
  }
}

// --- Errors --------------------------------------------------------------------------

#define HOST "Host: h\r\n"
#define CHUNKED_POST "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n"

struct BadInput {
  const char* name;
  MessageType type;
  std::string_view data;
  int status;
  // A piece of the error's reason: the input must fail for the rule it is there for.
  std::string_view reason;
  bool fails_in_body = false;  // the headers were fine, so on_headers has been called
};

class Http1ParserErrorTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(Http1ParserErrorTest, Rejected) {
  const BadInput& input = GetParam();
  for (bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise ? "bytewise" : "whole");
    RecordingVisitor v;
    Http1Parser parser(input.type, v);
    if (bytewise) {
      feed_bytewise(parser, input.data);
    } else {
      feed_all(parser, input.data);
    }
    ASSERT_TRUE(parser.has_error());
    EXPECT_EQ(parser.error().http_status, input.status);
    EXPECT_NE(parser.error().reason.find(input.reason), std::string::npos) << parser.error().reason;
    for (size_t i = 0; i < v.messages.size(); ++i) {
      const bool last = i + 1 == v.messages.size();
      EXPECT_EQ(v.messages[i].complete, !(last && input.fails_in_body)) << i;
    }
    if (input.fails_in_body) {
      EXPECT_FALSE(v.messages.empty());
    }
    // After an error nothing more is consumed or reported.
    const size_t before = v.messages.size();
    EXPECT_EQ(parser.feed("GET / HTTP/1.1\r\n" HOST "\r\n"), 0u);
    parser.feed_eof();
    EXPECT_EQ(v.messages.size(), before);
  }
}

std::string name_of(const ::testing::TestParamInfo<BadInput>& info) {
  return std::string(info.param.name);
}

const auto kRequest = MessageType::Request;
const auto kResponse = MessageType::Response;

INSTANTIATE_TEST_SUITE_P(
    RequestLine, Http1ParserErrorTest,
    ::testing::Values(
        BadInput{"BadMethod", kRequest, "G@T / HTTP/1.1\r\n" HOST "\r\n", 400, "invalid method"},
        BadInput{"EmptyMethod", kRequest, " / HTTP/1.1\r\n" HOST "\r\n", 400, "request line"},
        BadInput{"TabSeparator", kRequest, "GET\t/ HTTP/1.1\r\n" HOST "\r\n", 400, "method"},
        BadInput{"DoubleSpace", kRequest, "GET  / HTTP/1.1\r\n" HOST "\r\n", 400, "target"},
        BadInput{"TrailingSpace", kRequest, "GET / HTTP/1.1 \r\n" HOST "\r\n", 400, "version"},
        BadInput{"BadVersion", kRequest, "GET / HTTP/1.x\r\n" HOST "\r\n", 400, "version"},
        BadInput{"LowerCaseVersion", kRequest, "GET / http/1.1\r\n" HOST "\r\n", 400, "version"},
        BadInput{"TwoDigitMinor", kRequest, "GET / HTTP/1.10\r\n" HOST "\r\n", 400, "version"},
        BadInput{"Http2Version", kRequest, "GET / HTTP/2.0\r\n" HOST "\r\n", 400,
                 "unsupported HTTP version"},
        BadInput{"Http09", kRequest, "GET /\r\n\r\n", 400, "missing HTTP version"},
        BadInput{"SpaceInTarget", kRequest, "GET /a b HTTP/1.1\r\n" HOST "\r\n", 400, "version"},
        BadInput{"TabInTarget", kRequest, "GET /a\tb HTTP/1.1\r\n" HOST "\r\n", 400, "target"},
        BadInput{"AsteriskWithoutOptions", kRequest, "GET * HTTP/1.1\r\n" HOST "\r\n", 400,
                 "asterisk-form"},
        BadInput{"AuthorityFormWithoutConnect", kRequest, "GET h:80 HTTP/1.1\r\n" HOST "\r\n", 400,
                 "invalid request target"},
        BadInput{"AbsoluteFormOtherScheme", kRequest, "GET ftp://h/p HTTP/1.1\r\n" HOST "\r\n", 400,
                 "invalid request target"},
        BadInput{"AbsoluteFormUserinfo", kRequest, "GET http://u:p@h/p HTTP/1.1\r\n" HOST "\r\n",
                 400, "userinfo"},
        BadInput{"AbsoluteFormEmptyAuthority", kRequest, "GET http:///p HTTP/1.1\r\n" HOST "\r\n",
                 400, "authority"},
        BadInput{"AbsoluteFormBadAuthority", kRequest, "GET http://a..b/p HTTP/1.1\r\n" HOST "\r\n",
                 400, "authority"},
        BadInput{"AbsoluteFormWithoutHost", kRequest, "GET http://h/p HTTP/1.1\r\n\r\n", 400,
                 "without host"},
        BadInput{"ConnectWithoutPort", kRequest, "CONNECT h HTTP/1.1\r\n" HOST "\r\n", 400,
                 "host:port"},
        BadInput{"ConnectOriginForm", kRequest, "CONNECT /p HTTP/1.1\r\n" HOST "\r\n", 400,
                 "host:port"},
        BadInput{"ConnectWithBody", kRequest,
                 "CONNECT h:443 HTTP/1.1\r\n" HOST "Content-Length: 2\r\n\r\nhi", 400,
                 "CONNECT with a body"},
        BadInput{"TooManyEmptyLinesFirst", kRequest,
                 "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" HOST "\r\n", 400,
                 "empty lines"},
        BadInput{"SecondRequestBad", kRequest, "GET / HTTP/1.1\r\n" HOST "\r\nGET / HTTP/9\r\n\r\n",
                 400, "version"}),
    name_of);

INSTANTIATE_TEST_SUITE_P(
    LineEndings, Http1ParserErrorTest,
    ::testing::Values(
        BadInput{"RequestLineBareLf", kRequest, "GET / HTTP/1.1\n" HOST "\r\n", 400, "bare LF"},
        BadInput{"RequestLineBareCr", kRequest, "GET / HTTP/1.1\r" HOST "\r\n", 400, "version"},
        BadInput{"BareLfBeforeRequestLine", kRequest, "\nGET / HTTP/1.1\r\n" HOST "\r\n", 400,
                 "bare LF"},
        BadInput{"FieldLineBareLf", kRequest, "GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "bare LF"},
        BadInput{"FieldLineBareCr", kRequest, "GET / HTTP/1.1\r\n" HOST "X: a\rb\r\n\r\n", 400,
                 "field value"},
        BadInput{"EndOfHeadBareLf", kRequest, "GET / HTTP/1.1\r\n" HOST "\n", 400, "bare LF"},
        BadInput{"ChunkSizeBareLf", kRequest, CHUNKED_POST "3\nabc\r\n0\r\n\r\n", 400, "bare LF",
                 true},
        BadInput{"ChunkExtensionBareCr", kRequest, CHUNKED_POST "3;a\rb\r\nabc\r\n0\r\n\r\n", 400,
                 "chunk extension", true},
        BadInput{"ChunkExtensionBareLf", kRequest, CHUNKED_POST "3;a\nb\r\nabc\r\n0\r\n\r\n", 400,
                 "bare LF", true},
        BadInput{"ChunkDataWithoutCrlf", kRequest, CHUNKED_POST "3\r\nabcXY0\r\n\r\n", 400, "CRLF",
                 true},
        BadInput{"ChunkDataWithBareLf", kRequest, CHUNKED_POST "3\r\nabc\n0\r\n\r\n", 400, "CRLF",
                 true},
        BadInput{"ChunkDataWithBareCr", kRequest, CHUNKED_POST "3\r\nabc\r0\r\n\r\n", 400, "CRLF",
                 true},
        BadInput{"LastChunkBareLf", kRequest, CHUNKED_POST "0\n\r\n", 400, "bare LF", true},
        BadInput{"TrailerBareLf", kRequest, CHUNKED_POST "0\r\nX: y\n\r\n", 400, "bare LF", true},
        BadInput{"EndOfTrailersBareLf", kRequest, CHUNKED_POST "0\r\nX: y\r\n\n", 400, "bare LF",
                 true}),
    name_of);

INSTANTIATE_TEST_SUITE_P(
    Fields, Http1ParserErrorTest,
    ::testing::Values(
        BadInput{"SpaceInName", kRequest, "GET / HTTP/1.1\r\n" HOST "Bad Name: x\r\n\r\n", 400,
                 "field name"},
        BadInput{"NonTokenName", kRequest, "GET / HTTP/1.1\r\n" HOST "X@Y: x\r\n\r\n", 400,
                 "field name"},
        BadInput{"EmptyName", kRequest, "GET / HTTP/1.1\r\n" HOST ": x\r\n\r\n", 400,
                 "empty field name"},
        BadInput{"NoColon", kRequest, "GET / HTTP/1.1\r\n" HOST "NoColon\r\n\r\n", 400,
                 "without a colon"},
        BadInput{"SpaceBeforeColon", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400,
                 "whitespace between field name and colon"},
        BadInput{"TabBeforeColon", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length\t: 1\r\n\r\nx", 400,
                 "whitespace between field name and colon"},
        BadInput{"ControlInValue", kRequest, "GET / HTTP/1.1\r\n" HOST "X: a\x01b\r\n\r\n", 400,
                 "field value"},
        BadInput{"NulStartingValue", kRequest,
                 std::string_view("GET / HTTP/1.1\r\nHost: h\r\nX:\0b\r\n\r\n", 33), 400,
                 "field value"},
        BadInput{"ObsFold", kRequest, "GET / HTTP/1.1\r\n" HOST "X: first\r\n second\r\n\r\n", 400,
                 "obs-fold"},
        BadInput{"ObsFoldWithTab", kRequest,
                 "GET / HTTP/1.1\r\n" HOST "X: first\r\n\tsecond\r\n\r\n", 400, "obs-fold"},
        BadInput{"ObsFoldOfTransferEncoding", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: x\r\n chunked\r\n\r\n0\r\n\r\n",
                 400, "obs-fold"},
        BadInput{"WhitespaceBeforeFirstField", kRequest, "GET / HTTP/1.1\r\n " HOST "\r\n", 400,
                 "obs-fold"},
        BadInput{"ObsFoldInTrailers", kRequest, CHUNKED_POST "0\r\nX: a\r\n b\r\n\r\n", 400,
                 "obs-fold", true},
        BadInput{"BadTrailerName", kRequest, CHUNKED_POST "0\r\nBad Name: a\r\n\r\n", 400,
                 "field name", true}),
    name_of);

INSTANTIATE_TEST_SUITE_P(
    Framing, Http1ParserErrorTest,
    ::testing::Values(
        BadInput{"TransferEncodingLeadingTab", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", 400,
                 "HTAB"},
        BadInput{"TransferEncodingTrailingTab", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n", 400,
                 "HTAB"},
        BadInput{"GzipThenChunked", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                 501, "not implemented"},
        BadInput{"DeflateThenChunked", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: deflate,chunked\r\n\r\n0\r\n\r\n",
                 501, "not implemented"},
        BadInput{"RequestTransferEncodingNotChunked", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip\r\n\r\n", 400,
                 "does not end in chunked"},
        BadInput{"ChunkedThenGzip", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
                 "does not end in chunked"},
        BadInput{"ChunkedTwice", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked, chunked\r\n\r\n", 400,
                 "malformed transfer-encoding"},
        BadInput{"TransferEncodingTrailingComma", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked,\r\n\r\n", 400,
                 "malformed transfer-encoding"},
        BadInput{"TransferEncodingEmpty", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding:\r\n\r\n", 400,
                 "malformed transfer-encoding"},
        BadInput{"TwoTransferEncodings", kRequest,
                 "POST / HTTP/1.1\r\n" HOST
                 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 400, "multiple transfer-encoding"},
        BadInput{"ContentLengthAndTransferEncoding", kRequest,
                 "POST / HTTP/1.1\r\n" HOST
                 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 400, "both"},
        BadInput{"TransferEncodingThenContentLength", kRequest,
                 "POST / HTTP/1.1\r\n" HOST
                 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
                 400, "both"},
        BadInput{"DuplicateDifferingContentLength", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                 400, "multiple content-length"},
        BadInput{"DuplicateEqualContentLength", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
                 400, "multiple content-length"},
        BadInput{"BadContentLength", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 3x\r\n\r\nabc", 400, "content-length"},
        BadInput{"ContentLengthPlus", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: +3\r\n\r\nabc", 400, "content-length"},
        BadInput{"ContentLengthNegative", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: -3\r\n\r\nabc", 400, "content-length"},
        BadInput{"ContentLengthHex", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 0x3\r\n\r\nabc", 400,
                 "content-length"},
        BadInput{"ContentLengthList", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 3, 3\r\n\r\nabc", 400,
                 "content-length"},
        BadInput{"ContentLengthInnerSpace", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 3 3\r\n\r\nabc", 400,
                 "content-length"},
        BadInput{"ContentLengthEmpty", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length:\r\n\r\nabc", 400, "content-length"},
        BadInput{"ContentLengthTab", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length:\t3\r\n\r\nabc", 400, "HTAB"},
        BadInput{"ContentLengthOverflow", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 99999999999999999999999\r\n\r\n", 413,
                 "content-length too large"},
        BadInput{"ContentLengthAboveLimit", kRequest,
                 "POST / HTTP/1.1\r\n" HOST "Content-Length: 1099511627777\r\n\r\n", 413,
                 "content-length too large"},
        BadInput{"BadChunkSize", kRequest, CHUNKED_POST "zz\r\nabc\r\n0\r\n\r\n", 400, "chunk size",
                 true},
        BadInput{"ChunkSizeWithPrefix", kRequest, CHUNKED_POST "0x3\r\nabc\r\n0\r\n\r\n", 400,
                 "chunk", true},
        BadInput{"ChunkSizeWithSign", kRequest, CHUNKED_POST "+3\r\nabc\r\n0\r\n\r\n", 400,
                 "chunk size", true},
        BadInput{"ChunkSizeLeadingSpace", kRequest, CHUNKED_POST " 3\r\nabc\r\n0\r\n\r\n", 400,
                 "chunk size", true},
        BadInput{"ChunkSizeTrailingSpace", kRequest, CHUNKED_POST "3 \r\nabc\r\n0\r\n\r\n", 400,
                 "chunk extension", true},
        BadInput{"ChunkSizeOverflow", kRequest,
                 CHUNKED_POST "10000000000000000\r\nabc\r\n0\r\n\r\n", 400, "overflows", true},
        BadInput{"ChunkExtensionEmptyName", kRequest, CHUNKED_POST "3;=v\r\nabc\r\n0\r\n\r\n", 400,
                 "chunk extension", true},
        BadInput{"ChunkExtensionNoName", kRequest, CHUNKED_POST "3;\r\nabc\r\n0\r\n\r\n", 400,
                 "chunk extension", true},
        BadInput{"ChunkExtensionTrailingSpace", kRequest, CHUNKED_POST "3;a \r\nabc\r\n0\r\n\r\n",
                 400, "chunk extension", true},
        BadInput{"ChunkExtensionBadValue", kRequest, CHUNKED_POST "3;a=b@c\r\nabc\r\n0\r\n\r\n",
                 400, "chunk extension", true},
        BadInput{"ChunkExtensionOpenQuote", kRequest, CHUNKED_POST "3;a=\"bc\r\nabc\r\n0\r\n\r\n",
                 400, "chunk extension", true},
        BadInput{"ChunkExtensionControlInQuote", kRequest,
                 CHUNKED_POST "3;a=\"b\x01\"\r\nabc\r\n0\r\n\r\n", 400, "chunk extension", true}),
    name_of);

INSTANTIATE_TEST_SUITE_P(
    Host, Http1ParserErrorTest,
    ::testing::Values(
        BadInput{"NoHostInHttp11", kRequest, "GET / HTTP/1.1\r\n\r\n", 400, "without host"},
        BadInput{"TwoHosts", kRequest, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                 "multiple host"},
        BadInput{"TwoEqualHosts", kRequest, "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400,
                 "multiple host"},
        BadInput{"TwoHostsInHttp10", kRequest, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                 "multiple host"},
        BadInput{"EmptyHost", kRequest, "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "invalid host"},
        BadInput{"HostWithSpace", kRequest, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostWithTab", kRequest, "GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostWithSlash", kRequest, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostWithUserinfo", kRequest, "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostWithEmptyLabel", kRequest, "GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostWithBadPercent", kRequest, "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostPortNotDigits", kRequest, "GET / HTTP/1.1\r\nHost: a:80a\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostPortTooBig", kRequest, "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostTwoPorts", kRequest, "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostUnclosedBracket", kRequest, "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostBadIpv6", kRequest, "GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"HostIpv6WithoutBrackets", kRequest, "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400,
                 "invalid host"},
        BadInput{"AbsoluteFormWithBadHost", kRequest,
                 "GET http://h/p HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid host"}),
    name_of);

INSTANTIATE_TEST_SUITE_P(
    Responses, Http1ParserErrorTest,
    ::testing::Values(
        BadInput{"BadStatus", kResponse, "HTTP/1.1 2x0 OK\r\n\r\n", 502, "status line"},
        BadInput{"StatusBelow100", kResponse, "HTTP/1.1 099 Odd\r\n\r\n", 502, "status code"},
        BadInput{"StatusDoubleSpace", kResponse, "HTTP/1.1  200 OK\r\n\r\n", 502, "status line"},
        BadInput{"StatusFourDigits", kResponse, "HTTP/1.1 2000 OK\r\n\r\n", 502, "status line"},
        BadInput{"NotHttp", kResponse, "ICY 200 OK\r\n\r\n", 502, "status line"},
        BadInput{"ResponseHttp2", kResponse, "HTTP/2.0 200 OK\r\n\r\n", 502, "version"},
        BadInput{"ResponseBareCr", kResponse, "HTTP/1.1 200 OK\rX: y\r\n\r\n", 502,
                 "reason phrase"},
        BadInput{"ResponseBareCrInField", kResponse, "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 502,
                 "field value"},
        BadInput{"ResponseObsFold", kResponse, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502,
                 "obs-fold"},
        BadInput{"ResponseClAndTe", kResponse,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
                 502, "both"},
        BadInput{"ResponseTransferEncodingGzip", kResponse,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", 502, "chunked"},
        BadInput{"ResponseGzipThenChunked", kResponse,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 502,
                 "not implemented"},
        BadInput{"ResponseTwoContentLengths", kResponse,
                 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 502,
                 "multiple content-length"},
        BadInput{"ResponseBadChunkSize", kResponse,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 502, "chunk size",
                 true},
        BadInput{"ResponseChunkDataOverrun", kResponse,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", 502,
                 "CRLF", true}),
    name_of);

TEST(Http1ParserTest, ControlBytesRejectedAnywhereInValueOrTarget) {
  // The checks look at 8 bytes at a time: try every position, and the bytes next to the
  // forbidden range.
  for (char bad : {'\0', '\x01', '\x1f', '\x7f'}) {
    for (size_t pos = 0; pos < 20; ++pos) {
      std::string value(20, 'v');
      value[pos] = bad;
      RecordingVisitor v;
      Http1Parser parser(MessageType::Request, v);
      feed_all(parser, "GET / HTTP/1.1\r\nHost: h\r\nX: " + value + "\r\n\r\n");
      EXPECT_TRUE(parser.has_error()) << int(bad) << " at " << pos;
      EXPECT_NE(parser.error().reason.find("field value"), std::string::npos);

      std::string target = "/" + std::string(19, 't');
      target[pos == 0 ? 1 : pos] = bad;
      RecordingVisitor tv;
      Http1Parser target_parser(MessageType::Request, tv);
      feed_all(target_parser, "GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n");
      EXPECT_TRUE(target_parser.has_error()) << int(bad) << " at " << pos;
      EXPECT_NE(target_parser.error().reason.find("request"), std::string::npos);
    }
  }
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string odd_value = "a\tb \x80\xff~ !c\td e\x7e f g h";
  feed_all(parser, "GET /caf\xc3\xa9/~ HTTP/1.1\r\nHost: h\r\nX: " + odd_value + "\r\n\r\n");
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(value_of(v.messages[0], "x"), odd_value);
  EXPECT_EQ(value_of(v.messages[0], ":path"), "/caf\xc3\xa9/~");
}

TEST(Http1ParserTest, ContentLengthAndTransferEncodingNeverReachVisitor) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
  EXPECT_TRUE(parser.has_error());
  EXPECT_TRUE(v.messages.empty());
}

// --- Accepted forms ------------------------------------------------------------------

// Parses one request that must be accepted, and returns it.
Message parse_one(std::string_view data, MessageType type = MessageType::Request) {
  for (bool bytewise : {true, false}) {
    RecordingVisitor v;
    Http1Parser parser(type, v);
    if (bytewise) {
      feed_bytewise(parser, data);
    } else {
      feed_all(parser, data);
    }
    EXPECT_FALSE(parser.has_error()) << data << ": " << parser.error().reason;
    EXPECT_EQ(v.messages.size(), 1u) << data;
    if (!bytewise && v.messages.size() == 1) {
      return v.messages[0];
    }
  }
  return {};
}

TEST(Http1ParserTest, MethodsAreUpperCaseTokens) {
  // Unknown methods pass (http-parser knew a fixed list), in nginx's alphabet.
  for (std::string_view method : {"FROB", "M-SEARCH", "VERSION-CONTROL", "X_Y"}) {
    const Message m = parse_one(std::string(method) + " / HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(value_of(m, ":method"), method);
  }
  for (std::string_view method : {"get", "G3T", "GET.X", "helloGET"}) {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    feed_all(parser, std::string(method) + " / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_TRUE(parser.has_error()) << method;
    EXPECT_EQ(parser.error().reason, "invalid method");
  }
}

TEST(Http1ParserTest, MinorVersionAboveOneIsTreatedAsHttp11) {
  const Message m = parse_one("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
  EXPECT_EQ(m.head.http_major, 1);
  EXPECT_EQ(m.head.http_minor, 2);
  EXPECT_TRUE(m.head.keep_alive);
}

TEST(Http1ParserTest, Http09IsRefusedWithoutWaitingForMore) {
  // An HTTP/0.9 request has no blank line to wait for: the first line decides.
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  parser.feed("GET /index.html\r\n");
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 400);
}

TEST(Http1ParserTest, GarbageIsRefusedBeforeALineEnds) {
  // A TLS ClientHello, say: no line end, but it cannot start a request line.
  for (std::string_view garbage :
       {std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
        std::string_view("GET /\x01"), std::string_view("GET / XTTP"),
        std::string_view("GET / HTTP/1.1x")}) {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    parser.feed(garbage);
    EXPECT_TRUE(parser.has_error()) << garbage;
  }
  // A prefix of a good request line is not an error.
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_EQ(parser.feed("GET /index HTTP/1."), 18u);
  EXPECT_FALSE(parser.has_error());
}

TEST(Http1ParserTest, AbsoluteFormTarget) {
  struct Case {
    std::string_view target, path, authority, scheme;
  };
  for (const Case& c : {Case{"http://example.com/p?q=1", "/p?q=1", "example.com", "http"},
                        Case{"https://example.com/p", "/p", "example.com", "https"},
                        Case{"HTTP://example.com:8080/p", "/p", "example.com:8080", "http"},
                        Case{"http://example.com", "/", "example.com", "http"},
                        Case{"http://example.com?q", "/?q", "example.com", "http"},
                        Case{"http://[::1]:80/x", "/x", "[::1]:80", "http"}}) {
    SCOPED_TRACE(c.target);
    // The target's authority wins over Host (RFC 9112 §3.2.2); Host is still required.
    const Message m =
        parse_one("GET " + std::string(c.target) + " HTTP/1.1\r\nHost: other.example\r\n\r\n");
    EXPECT_EQ(m.headers, (Fields{{":method", "GET"},
                                 {":path", std::string(c.path)},
                                 {":authority", std::string(c.authority)},
                                 {":scheme", std::string(c.scheme)}}));
  }
}

TEST(Http1ParserTest, AsteriskFormWithOptions) {
  const Message m = parse_one("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(value_of(m, ":path"), "*");
  EXPECT_EQ(value_of(m, ":authority"), "h");
}

TEST(Http1ParserTest, ConnectTargetIsTheAuthority) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "CONNECT example.com:443 HTTP/1.1\r\nHost: other:443\r\n\r\n");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(value_of(v.messages[0], ":authority"), "example.com:443");
  EXPECT_TRUE(v.messages[0].head.upgrade);
}

TEST(Http1ParserTest, ValidHostForms) {
  for (std::string_view host :
       {"example.com", "example.com:8080", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:443",
        "[2001:db8::7]", "[v1.fe]", "ex%41mple.com", "a_b.example", "xn--bcher-kva.example",
        "example.com.", "example.com:", "a-b~c"}) {
    SCOPED_TRACE(host);
    const Message m = parse_one("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n");
    EXPECT_EQ(value_of(m, ":authority"), host);
  }
}

TEST(Http1ParserTest, OneEmptyLineBeforeTheRequestLineIsSkipped) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  // As after a POST body followed by a stray CRLF.
  feed_all(parser,
           "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  EXPECT_EQ(v.messages.size(), 2u);
}

TEST(Http1ParserTest, EmptyLinesThenEofAreNotAMessage) {
  for (bool bytewise : {false, true}) {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Response, v);
    const std::string_view data = "HTTP/1.1 204 No Content\r\n\r\n\r\n\r\n";
    bytewise ? feed_bytewise(parser, data) : feed_all(parser, data);
    parser.feed_eof();
    EXPECT_FALSE(parser.has_error()) << parser.error().reason;
    EXPECT_EQ(v.messages.size(), 1u);
  }
}

TEST(Http1ParserTest, RequestLineTrickledInIsCheckedWhenItEnds) {
  // Past its first KiB an incomplete request line is only measured (so that a slow client
  // costs linear time); the rest of the check comes with the line end.
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string line = "GET /" + std::string(2000, 'a') + "\x01 HTTP/1.1\r\n";
  for (size_t i = 0; i + 2 < line.size(); ++i) {
    parser.feed(line.substr(i, 1));
    ASSERT_FALSE(parser.has_error()) << i;
  }
  parser.feed(line.substr(line.size() - 2));
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().reason, "invalid request target");
}

TEST(Http1ParserTest, LongGarbageLineFailsHoweverItIsRead) {
  // Found by the fuzzer: a bad method in a line longer than the early-check window, with no
  // line end yet, failed when read in pieces but not when read at once.
  const std::string data = "N" + std::string(2000, '\0');
  for (size_t piece : {data.size(), size_t{1}, size_t{7}, size_t{1500}}) {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    for (size_t i = 0; i < data.size() && !parser.has_error(); i += piece) {
      parser.feed(std::string_view(data).substr(i, piece));
    }
    ASSERT_TRUE(parser.has_error()) << piece;
    EXPECT_EQ(parser.error().reason, "invalid method") << piece;
  }
}

TEST(Http1ParserTest, PrefixedTransferEncodingNameIsJustAField) {
  // http-parser took any name starting with "transfer-encoding" for one; it is another
  // field, so this request has no body and "hello" starts the next request.
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encodingy: chunked\r\n\r\nhello\r\n");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_FALSE(v.messages[0].head.chunked);
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  EXPECT_EQ(value_of(v.messages[0], "transfer-encodingy"), "chunked");
  EXPECT_TRUE(parser.has_error()) << "hello is not a request line";
}

TEST(Http1ParserTest, ChunkedInAnyCaseWithSpaces) {
  for (std::string_view te : {"chunked", "Chunked", "CHUNKED", " chunked ", "chunked  "}) {
    SCOPED_TRACE(te);
    const Message m =
        parse_one("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:" + std::string(te) +
                  "\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    EXPECT_TRUE(m.head.chunked);
    EXPECT_EQ(m.body, "abc");
  }
}

TEST(Http1ParserTest, Http10ChunkedIsParsedThenTheConnectionCloses) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string_view data =
      "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\nGET /after HTTP/1.0\r\n\r\n";
  EXPECT_EQ(parser.feed(data), data.size());
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u) << "what follows is dropped";
  EXPECT_TRUE(v.messages[0].head.chunked);
  EXPECT_FALSE(v.messages[0].head.keep_alive);
  EXPECT_EQ(v.messages[0].body, "abc");
}

TEST(Http1ParserTest, ContentLengthLeadingZerosAndSpaces) {
  const Message m = parse_one("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  003 \r\n\r\nabc");
  EXPECT_EQ(m.head.content_length, 3u);
  EXPECT_EQ(m.body, "abc");
}

TEST(Http1ParserTest, ContentLengthLimitIsConfigurable) {
  ParserLimits limits;
  limits.max_content_length = 100;
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_all(parser, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n");
    EXPECT_FALSE(parser.has_error());
  }
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(parser, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n");
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 413);
  EXPECT_TRUE(v.messages.empty());
}

TEST(Http1ParserTest, ChunkSizesAndExtensions) {
  for (std::string_view chunk :
       {"3\r\nabc", "003\r\nabc", "A\r\n0123456789", "a\r\n0123456789", "3;x\r\nabc",
        "3;x=y\r\nabc", "3;x=\"a b\\\"c\"\r\nabc", "3 ; x = y\r\nabc", "3;a=1;b;c=\"\"\r\nabc",
        "3;x=\"\xc3\xa9\"\r\nabc"}) {
    SCOPED_TRACE(chunk);
    const Message m = parse_one("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                std::string(chunk) + "\r\n0;last=1\r\n\r\n");
    EXPECT_EQ(m.body.size(), chunk.substr(chunk.find('\n') + 1).size());
  }
}

TEST(Http1ParserTest, ChunkSizeLimit) {
  const std::string_view head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  {
    // 64 bits of chunk size parse; the content-length limit refuses it.
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v);
    feed_all(parser, std::string(head) + "FFFFFFFFFFFFFFFF\r\nabc");
    ASSERT_TRUE(parser.has_error());
    EXPECT_EQ(parser.error().http_status, 413);
  }
  ParserLimits limits;
  limits.max_content_length = UINT64_MAX;
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(parser, std::string(head) + "FFFFFFFFFFFFFFFF\r\nabc");
  EXPECT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(v.messages[0].body, "abc");
}

TEST(Http1ParserTest, LongChunkLineFailsBeforeItEnds) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=");
  for (int i = 0; i < 100 && !parser.has_error(); ++i) {
    feed_all(parser, std::string(100, 'y'));
  }
  ASSERT_TRUE(parser.has_error());
  EXPECT_NE(parser.error().reason.find("chunk line too long"), std::string::npos);
}

TEST(Http1ParserTest, ForbiddenTrailersAreDropped) {
  const Message m = parse_one(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
      "Content-Length: 50\r\nX-Checksum: abc\r\nHost: evil\r\nTransfer-Encoding: chunked\r\n"
      "Authorization: x\r\nConnection: close\r\nTE: trailers\r\nTrailer: X\r\n"
      "Content-Type: text/evil\r\nX-Other: 1\r\nCookie: a=b\r\n\r\n");
  EXPECT_EQ(m.trailers, (Fields{{"x-checksum", "abc"}, {"x-other", "1"}}));
  EXPECT_TRUE(m.complete);
}

TEST(Http1ParserTest, OnlyForbiddenTrailersEndWithAnEmptyBody) {
  const Message m = parse_one(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
      "Content-Length: 50\r\nHost: evil\r\n\r\n");
  EXPECT_TRUE(m.trailers.empty());
  EXPECT_TRUE(m.body_end_stream);
  EXPECT_TRUE(m.complete);
}

// --- Responses -----------------------------------------------------------------------

TEST(Http1ParserTest, StatusLineWithoutReason) {
  for (std::string_view line : {"HTTP/1.1 200", "HTTP/1.1 200 ", "HTTP/1.0 404 Not\tFound"}) {
    SCOPED_TRACE(line);
    const Message m =
        parse_one(std::string(line) + "\r\nContent-Length: 0\r\n\r\n", MessageType::Response);
    EXPECT_EQ(value_of(m, ":status"), std::string(line.substr(9, 3)));
  }
}

TEST(Http1ParserTest, ResponsesMayEndLinesWithBareLf) {
  // nginx is lenient with upstreams here; refusing would only turn them into 502s.
  const Message m =
      parse_one("HTTP/1.1 200 OK\nX: y\r\nTransfer-Encoding: chunked\n\n3\nabc\n0\nT: v\n\n",
                MessageType::Response);
  EXPECT_EQ(m.body, "abc");
  EXPECT_EQ(m.trailers, (Fields{{"t", "v"}}));
  EXPECT_EQ(value_of(m, "x"), "y");
}

TEST(Http1ParserTest, SwitchingProtocolsPauses) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  const std::string_view head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
  const std::string data = std::string(head) + "\x81\x05hello";
  EXPECT_EQ(parser.feed(data), head.size());
  EXPECT_TRUE(parser.paused());
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_TRUE(v.messages[0].head.upgrade);
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  EXPECT_TRUE(v.messages[0].complete);
}

TEST(Http1ParserTest, ResponseWithoutFramingRunsToClose) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v);
  feed_all(parser, "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nabc");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_FALSE(v.messages[0].head.keep_alive);
  parser.feed_eof();
  EXPECT_TRUE(v.messages[0].complete);
  EXPECT_EQ(v.messages[0].body, "abc");
}

// --- Limits --------------------------------------------------------------------------

TEST(Http1ParserTest, OversizedHeadersAre431) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  std::string data =
      "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(size_t{61} * 1024, 'a') + "\r\n\r\n";
  feed_all(parser, data);
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
  EXPECT_TRUE(v.messages.empty());
}

TEST(Http1ParserTest, HeaderBytesLimitIsConfigurable) {
  ParserLimits limits;
  limits.max_header_bytes = 64;
  // Counted: method and target (3 + 21), name and value with its whitespace (4 + 31): 59.
  const std::string fits =
      "GET /" + std::string(20, 'p') + " HTTP/1.0\r\nName: " + std::string(30, 'v') + "\r\n\r\n";
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_all(parser, fits);
    EXPECT_FALSE(parser.has_error()) << parser.error().reason;
  }
  for (bool bytewise : {false, true}) {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    const std::string too_big = "GET /" + std::string(30, 'p') +
                                " HTTP/1.0\r\nName: " + std::string(30, 'v') + "\r\n\r\n";  // 69
    if (bytewise) {
      feed_bytewise(parser, too_big);
    } else {
      feed_all(parser, too_big);
    }
    ASSERT_TRUE(parser.has_error());
    EXPECT_EQ(parser.error().http_status, 431);
  }
}

TEST(Http1ParserTest, HeaderLimitAboveEightyKiBIsHonoured) {
  // (http-parser refused any header section over 80 KiB, whatever the limit.)
  ParserLimits limits;
  limits.max_header_bytes = size_t{1} << 20;
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(parser, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(size_t{90} * 1024, 'a') +
                       "\r\n\r\n");
  EXPECT_FALSE(parser.has_error()) << parser.error().reason;
  EXPECT_EQ(v.messages.size(), 1u);
}

TEST(Http1ParserTest, LongFieldLineFailsBeforeItEnds) {
  // Never buffered past the limit waiting for a line end.
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
  for (int i = 0; i < 100 && !parser.has_error(); ++i) {
    feed_all(parser, std::string(1024, 'a'));
  }
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
}

TEST(Http1ParserTest, LongRequestLineIs414) {
  ParserLimits limits;
  limits.max_request_line_bytes = 100;
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    // 4 + 87 + 9 = 100 bytes.
    feed_all(parser, "GET /" + std::string(86, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_FALSE(parser.has_error()) << parser.error().reason;
  }
  // 101 bytes; and a longer line whose end has not arrived.
  for (const std::string& line : {"GET /" + std::string(87, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
                                  "GET /" + std::string(200, 'a')}) {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_all(parser, line);
    ASSERT_TRUE(parser.has_error()) << line;
    EXPECT_EQ(parser.error().http_status, 414);
  }
}

TEST(Http1ParserTest, TooManyHeadersAre431) {
  ParserLimits limits;
  limits.max_headers = 3;
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_all(parser, "GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    EXPECT_FALSE(parser.has_error());
  }
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(parser, "GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
  EXPECT_TRUE(v.messages.empty());
}

TEST(Http1ParserTest, TooManyTrailersAre431) {
  ParserLimits limits;
  limits.max_headers = 2;
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(parser,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n"
           "C: 3\r\n\r\n");
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_FALSE(v.messages[0].complete);
}

TEST(Http1ParserTest, TrailerBytesHaveTheirOwnLimit) {
  ParserLimits limits;
  limits.max_header_bytes = 64;
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  {
    // The head's bytes do not count against the trailers: 60 bytes of trailers fit.
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_all(parser, head + "X: " + std::string(58, 't') + "\r\n\r\n");
    EXPECT_FALSE(parser.has_error()) << parser.error().reason;
    ASSERT_EQ(v.messages.size(), 1u);
    EXPECT_TRUE(v.messages[0].complete);
  }
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(parser, head + "X: " + std::string(64, 't'));  // 66 counted, no line end yet
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
  EXPECT_EQ(parser.error().reason, "trailers too large");
}

TEST(Http1ParserTest, OversizedResponseHeadIs502) {
  ParserLimits limits;
  limits.max_header_bytes = 64;
  RecordingVisitor v;
  Http1Parser parser(MessageType::Response, v, limits);
  feed_all(parser, "HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a') + "\r\n\r\n");
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 502);
}

// --- Visitor -------------------------------------------------------------------------

TEST(Http1ParserTest, VisitorMayMoveHeaders) {
  struct MovingVisitor : RecordingVisitor {
    std::vector<HeaderMap> taken;
    void on_headers(HeaderMap& headers, const MessageHead& head, bool end_stream) override {
      RecordingVisitor::on_headers(headers, head, end_stream);
      taken.push_back(std::move(headers));
    }
  } v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, kThreeRequests);
  ASSERT_EQ(v.taken.size(), 3u);
  EXPECT_EQ(v.taken[2].get(":path"), "/3");
  EXPECT_EQ(v.taken[0].get(":path"), "/1");
}

TEST(Http1ParserTest, ExceptionFromVisitorPropagatesAndStopsParser) {
  struct ThrowingVisitor : RecordingVisitor {
    void on_headers(HeaderMap&, const MessageHead&, bool) override {
      throw std::runtime_error("boom");
    }
  } v;
  Http1Parser parser(MessageType::Request, v);
  EXPECT_THROW(parser.feed(kSimpleGet), std::runtime_error);
  EXPECT_TRUE(parser.has_error());
  EXPECT_EQ(parser.feed(kSimpleGet), 0u);
}

// A parser reused across upstream requests: after reset() it parses as a new one would,
// whatever state the last message left it in (an error, a pause, half a head, a HEAD).
TEST(Http1ParserResetTest, ResetParserBehavesAsANewOne) {
  RecordingVisitor first;
  Http1Parser parser(MessageType::Response, first);
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nhi";
  const std::string leftovers[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",    // error
      "HTTP/1.1 200 OK\r\nContent-Le",                   // half a head
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",  // half a body
  };
  for (const std::string& leftover : leftovers) {
    parser.expect_no_body(true);
    parser.pause_after_message(true);
    parser.feed(leftover);
    RecordingVisitor next;
    parser.reset(next);
    EXPECT_FALSE(parser.has_error());
    EXPECT_FALSE(parser.paused());
    EXPECT_EQ(parser.feed(ok), ok.size()) << leftover;
    ASSERT_EQ(next.messages.size(), 1u) << leftover;
    EXPECT_EQ(next.messages[0].body, "hi");  // expect_no_body did not survive the reset
    EXPECT_TRUE(next.messages[0].complete);
    EXPECT_EQ(
        next.messages[0].headers,
        (std::vector<HeaderMap::Entry>{{":status", "200"}, {"content-length", "2"}, {"x-a", "1"}}));
    parser.reset(first);  // `next` ends with this iteration; the parser must not outlive it
  }
}

}  // namespace
}  // namespace weir::http
