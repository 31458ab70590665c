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
    m.headers = headers.entries();
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
    messages.back().trailers = trailers.entries();
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
           "X-Multi: a\r\n"
           "Empty:\r\n"
           "X-Spaces: \t padded value \t \r\n"
           "x-multi: b\r\n"
           "X-Folded: first\r\n"
           "  second\r\n"
           "\r\n");
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(v.messages[0].headers, (Fields{{":method", "GET"},
                                           {":path", "/"},
                                           {":scheme", "http"},
                                           {"x-multi", "a"},
                                           {"empty", ""},
                                           {"x-spaces", "padded value"},
                                           {"x-multi", "b"},
                                           {"x-folded", "first  second"}}));
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
  feed_all(parser, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_TRUE(v.messages[0].headers_end_stream);
  EXPECT_TRUE(v.messages[0].head.has_content_length);
  EXPECT_EQ(v.messages[0].body_calls, 0);
  EXPECT_TRUE(v.messages[0].complete);
}

constexpr std::string_view kChunkedWithTrailers =
    "POST /c HTTP/1.1\r\n"
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
  feed_all(p2, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
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
    feed_all(parser, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(v.messages.size(), 1u);
    EXPECT_FALSE(v.messages[0].head.keep_alive);
  }
}

TEST(Http1ParserTest, BytesAfterConnectionEndingMessageAreDropped) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string_view data = "GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
  EXPECT_EQ(parser.feed(data), data.size());
  EXPECT_FALSE(parser.has_error());
  EXPECT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(parser.feed("more"), 4u);
  EXPECT_EQ(v.messages.size(), 1u);
}

TEST(Http1ParserTest, ExpectContinue) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n");
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
  const std::string data = std::string(upgrade) + "GET /next HTTP/1.1\r\n\r\n";
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
  feed_all(parser, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  parser.feed_eof();
  EXPECT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 400);
  EXPECT_FALSE(v.messages[0].complete);
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

struct BadInput {
  const char* name;
  MessageType type;
  std::string_view data;
  int status;
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
    EXPECT_FALSE(parser.error().reason.empty());
    for (size_t i = 0; i < v.messages.size(); ++i) {
      const bool last = i + 1 == v.messages.size();
      EXPECT_EQ(v.messages[i].complete, !(last && input.fails_in_body)) << i;
    }
    // After an error nothing more is consumed or reported.
    const size_t before = v.messages.size();
    EXPECT_EQ(parser.feed("GET / HTTP/1.1\r\n\r\n"), 0u);
    parser.feed_eof();
    EXPECT_EQ(v.messages.size(), before);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, Http1ParserErrorTest,
    ::testing::Values(
        BadInput{"BadMethod", MessageType::Request, "G@T / HTTP/1.1\r\n\r\n", 400},
        BadInput{"UnknownMethod", MessageType::Request, "FROB / HTTP/1.1\r\n\r\n", 400},
        BadInput{"BadVersion", MessageType::Request, "GET / HTTP/1.x\r\n\r\n", 400},
        BadInput{"Http2Version", MessageType::Request, "GET / HTTP/2.0\r\n\r\n", 400},
        BadInput{"SpaceInTarget", MessageType::Request, "GET /a b HTTP/1.1\r\n\r\n", 400},
        BadInput{"BadHeaderName", MessageType::Request, "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
                 400},
        BadInput{"BadChunkSize", MessageType::Request,
                 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400,
                 true},
        BadInput{"ChunkDataWithoutCrlf", MessageType::Request,
                 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n", 400,
                 true},
        BadInput{"ChunkDataWithBareLf", MessageType::Request,
                 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", 400,
                 true},
        BadInput{"SpaceBeforeColon", MessageType::Request,
                 "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
        BadInput{"TabInTarget", MessageType::Request, "GET /a\tb HTTP/1.1\r\n\r\n", 400},
        BadInput{"ControlInValue", MessageType::Request, "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
                 400},
        BadInput{"NulStartingValue", MessageType::Request,
                 std::string_view("GET / HTTP/1.1\r\nX:\0b\r\n\r\n", 24), 400},
        BadInput{"TransferEncodingPrefixedName", MessageType::Request,
                 "POST / HTTP/1.1\r\nTransfer-Encodingy: chunked\r\n\r\n", 400},
        BadInput{"Http09", MessageType::Request, "GET /\r\n\r\n", 400},
        BadInput{"ContentLengthAndTransferEncoding", MessageType::Request,
                 "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "0\r\n\r\n",
                 400},
        BadInput{"TransferEncodingThenContentLength", MessageType::Request,
                 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                 "0\r\n\r\n",
                 400},
        BadInput{"DuplicateDifferingContentLength", MessageType::Request,
                 "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        BadInput{"BadContentLength", MessageType::Request,
                 "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc", 400},
        BadInput{"RequestTransferEncodingNotChunked", MessageType::Request,
                 "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        BadInput{"TwoHosts", MessageType::Request, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                 400},
        BadInput{"BadStatus", MessageType::Response, "HTTP/1.1 2x0 OK\r\n\r\n", 400},
        BadInput{"ResponseClAndTe", MessageType::Response,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", 400},
        BadInput{"SecondRequestBad", MessageType::Request,
                 "GET / HTTP/1.1\r\n\r\nGET / HTTP/9\r\n\r\n", 400}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

TEST(Http1ParserTest, ControlBytesRejectedAnywhereInValueOrTarget) {
  // The checks look at 8 bytes at a time: try every position, and the bytes next to the
  // forbidden range.
  for (char bad : {'\0', '\x01', '\x1f', '\x7f'}) {
    for (size_t pos = 0; pos < 20; ++pos) {
      std::string value(20, 'v');
      value[pos] = bad;
      RecordingVisitor v;
      Http1Parser parser(MessageType::Request, v);
      feed_all(parser, "GET / HTTP/1.1\r\nX: " + value + "\r\n\r\n");
      EXPECT_TRUE(parser.has_error()) << int(bad) << " at " << pos;

      std::string target = "/" + std::string(19, 't');
      target[pos == 0 ? 1 : pos] = bad;
      RecordingVisitor tv;
      Http1Parser target_parser(MessageType::Request, tv);
      feed_all(target_parser, "GET " + target + " HTTP/1.1\r\n\r\n");
      EXPECT_TRUE(target_parser.has_error()) << int(bad) << " at " << pos;
    }
  }
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  const std::string odd_value = "a\tb \x80\xff~ !c\td e\x7e f g h";
  feed_all(parser, "GET /caf\xc3\xa9/~ HTTP/1.1\r\nX: " + odd_value + "\r\n\r\n");
  ASSERT_FALSE(parser.has_error()) << parser.error().reason;
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_EQ(value_of(v.messages[0], "x"), odd_value);
  EXPECT_EQ(value_of(v.messages[0], ":path"), "/caf\xc3\xa9/~");
}

TEST(Http1ParserTest, ContentLengthAndTransferEncodingNeverReachVisitor) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  feed_all(parser, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
  EXPECT_TRUE(parser.has_error());
  EXPECT_TRUE(v.messages.empty());
}

TEST(Http1ParserTest, OversizedHeadersAre431) {
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v);
  std::string data = "GET / HTTP/1.1\r\nX-Big: " + std::string(size_t{61} * 1024, 'a') + "\r\n\r\n";
  feed_all(parser, data);
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
  EXPECT_TRUE(v.messages.empty());
}

TEST(Http1ParserTest, HeaderBytesLimitIsConfigurable) {
  ParserLimits limits;
  limits.max_header_bytes = 64;
  const std::string fits = "GET /" + std::string(20, 'p') +
                           " HTTP/1.1\r\nName: " + std::string(30, 'v') +
                           "\r\n\r\n";  // 21 + 4 + 30 = 55 bytes
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_all(parser, fits);
    EXPECT_FALSE(parser.has_error());
  }
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_bytewise(parser, "GET /" + std::string(30, 'p') +
                              " HTTP/1.1\r\nName: " + std::string(30, 'v') + "\r\n\r\n");
    ASSERT_TRUE(parser.has_error());
    EXPECT_EQ(parser.error().http_status, 431);
  }
}

TEST(Http1ParserTest, HugeHeaderSectionBeyondHttpParserLimitIs431) {
  ParserLimits limits;
  limits.max_header_bytes = size_t{1} << 20;
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  std::string data = "GET / HTTP/1.1\r\nX-Big: " + std::string(size_t{90} * 1024, 'a') + "\r\n\r\n";
  feed_all(parser, data);
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
}

TEST(Http1ParserTest, TooManyHeadersAre431) {
  ParserLimits limits;
  limits.max_headers = 3;
  {
    RecordingVisitor v;
    Http1Parser parser(MessageType::Request, v, limits);
    feed_all(parser, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    EXPECT_FALSE(parser.has_error());
  }
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(parser, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
  EXPECT_TRUE(v.messages.empty());
}

TEST(Http1ParserTest, TooManyTrailersAre431) {
  ParserLimits limits;
  limits.max_headers = 2;
  RecordingVisitor v;
  Http1Parser parser(MessageType::Request, v, limits);
  feed_all(
      parser,
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
  ASSERT_TRUE(parser.has_error());
  EXPECT_EQ(parser.error().http_status, 431);
  ASSERT_EQ(v.messages.size(), 1u);
  EXPECT_FALSE(v.messages[0].complete);
}

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

}  // namespace
}  // namespace weir::http
