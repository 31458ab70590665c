#pragma once
// Envoy's access log format strings: text with %OPERATORS% that pull fields of a
// finished stream (%REQ(:METHOD)%, %RESPONSE_CODE%, %START_TIME(%s)%, …). Parsed once at
// config load; formatting a record is a walk over the pre-split pieces.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "http/header_map.h"
#include "proxy/http_filter.h"

namespace weir::access_log {

// What a log line can show about one finished stream.
struct LogRecord {
  const proxy::StreamInfo& info;
  const http::HeaderMap* request_headers = nullptr;  // null when none arrived
  const http::HeaderMap* response_headers = nullptr;
  const http::HeaderMap* response_trailers = nullptr;
  std::chrono::microseconds duration{0};  // first byte in to last byte out
};

// Envoy's format when a logger names none.
inline constexpr std::string_view kDefaultFormat =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

class LogFormat {
 public:
  // Fails naming the first operator weir does not know, or a malformed one.
  static Result<LogFormat> parse(std::string_view format);
  void format(const LogRecord& record, std::string& out) const;

  enum class Field {
    Literal,
    RequestHeader,
    ResponseHeader,
    ResponseTrailer,
    StartTime,
    Protocol,
    ResponseCode,
    ResponseCodeDetails,
    ResponseFlags,
    BytesReceived,
    BytesSent,
    Duration,
    UpstreamHost,
    UpstreamCluster,
    RouteName,
    DownstreamRemoteAddress,
    DownstreamRemoteAddressWithoutPort,
    DownstreamLocalAddress,
    DownstreamLocalAddressWithoutPort,
    ConnectionId,
    RequestedServerName,   // the client's SNI
    DownstreamTlsVersion,  // "TLSv1.3"
    DownstreamPeerSubject,
    UpstreamTlsVersion,
    Hostname,
  };

 private:
  struct Piece {
    Field field = Field::Literal;
    std::string text;         // literal text, header name, or strftime format
    std::string alternative;  // REQ(A?B): B, tried when A is absent
    std::optional<size_t> max_length;
  };
  std::vector<Piece> pieces_;
};

}  // namespace weir::access_log
