#include <gtest/gtest.h>

#include "access_log/log_format.h"

namespace weir::access_log {
namespace {

proxy::StreamInfo sample_info() {
  proxy::StreamInfo info;
  info.downstream_remote_address = "10.0.0.7";
  info.downstream_remote_port = 40000;
  info.downstream_local_address = "127.0.0.1";
  info.downstream_local_port = 8080;
  info.protocol = "HTTP/1.1";
  // 2024-01-31T12:34:56.789Z
  info.start_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1706704496789));
  info.upstream_host = "127.0.0.1:9000";
  info.response_code = 200;
  info.bytes_received = 5;
  info.bytes_sent = 42;
  info.cluster_name = "mock";
  return info;
}

std::string format(std::string_view text, const LogRecord& record) {
  auto parsed = LogFormat::parse(text);
  EXPECT_TRUE(parsed) << parsed.error();
  std::string out;
  if (parsed) parsed->format(record, out);
  return out;
}

TEST(AccessLogFormat, EnvoyDefaultFormat) {
  auto info = sample_info();
  http::HeaderMap request;
  request.add(":method", "GET");
  request.add(":path", "/hello");
  request.add(":authority", "example.com");
  request.add("user-agent", "curl/8");
  request.add("x-request-id", "abc");
  http::HeaderMap response;
  response.add(":status", "200");
  response.add("x-envoy-upstream-service-time", "3");
  LogRecord record{info, &request, &response, nullptr, std::chrono::milliseconds(12)};
  EXPECT_EQ(format(kDefaultFormat, record),
            "[2024-01-31T12:34:56.789Z] \"GET /hello HTTP/1.1\" 200 - 5 42 12 3 \"-\" \"curl/8\" "
            "\"abc\" \"example.com\" \"127.0.0.1:9000\"\n");
}

TEST(AccessLogFormat, HeaderFallbackAndTruncation) {
  auto info = sample_info();
  http::HeaderMap request;
  request.add(":path", "/rewritten");
  request.add("x-envoy-original-path", "/original");
  LogRecord record{info, &request, nullptr, nullptr, {}};
  EXPECT_EQ(format("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ(:PATH):4% %RESP(X)%", record),
            "/original /rew -");
}

TEST(AccessLogFormat, AddressesTimesAndLiterals) {
  auto info = sample_info();
  LogRecord record{info, nullptr, nullptr, nullptr, std::chrono::microseconds(1500)};
  EXPECT_EQ(format("%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% "
                   "%DOWNSTREAM_LOCAL_ADDRESS% %UPSTREAM_CLUSTER% 100%% %DURATION%",
                   record),
            "10.0.0.7:40000 10.0.0.7 127.0.0.1:8080 mock 100% 1");
  EXPECT_EQ(format("%START_TIME(%Y/%m/%d %H:%M:%S.%3f)% %START_TIME(%s)%", record),
            "2024/01/31 12:34:56.789 1706704496");
}

TEST(AccessLogFormat, UnknownOperatorIsAnError) {
  auto parsed = LogFormat::parse("%NOT_A_THING%");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("NOT_A_THING"), std::string::npos);
  EXPECT_FALSE(LogFormat::parse("%REQ%"));
  EXPECT_FALSE(LogFormat::parse("%PROTOCOL"));
}

}  // namespace
}  // namespace weir::access_log
