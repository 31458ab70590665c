#pragma once
// gRPC over HTTP/2, the wire parts a client needs (grpc/doc/PROTOCOL-HTTP2.md): the
// 5-byte length prefix of every message, the grpc-timeout header, and the call's status
// from grpc-status / grpc-message (in trailers, or in the headers of a trailers-only
// answer), or from the HTTP status when an answer carries none. Knows no sockets.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/header_map.h"

namespace weir::http::grpc {

// The status codes (google.rpc.Code) weir produces itself.
enum class Status : uint32_t {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  Unauthenticated = 16,
};
constexpr uint32_t code(Status s) { return static_cast<uint32_t>(s); }

constexpr size_t kFrameHeaderBytes = 5;

// `message` with its prefix: 0 (not compressed), then the big-endian u32 length.
std::string frame(std::string_view message);
void append_frame(std::string& out, std::string_view message);

// Splits a stream of DATA bytes into messages, holding at most one partial message and
// never more than `max_message_bytes` of it.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint64_t max_message_bytes) : max_(max_message_bytes) {}
  enum class Result { Message, NeedMore, TooLarge, Compressed };
  // Appends `data`; call next() until it answers NeedMore.
  void feed(std::string_view data) { buffer_.append(data); }
  // Message: `message` holds the next one. TooLarge / Compressed: the stream is broken
  // (a message past the bound; the compressed flag, which weir never negotiates).
  Result next(std::string& message);
  bool empty() const { return buffer_.size() == offset_; }

 private:
  uint64_t max_;
  std::string buffer_;
  size_t offset_ = 0;
};

// The grpc-timeout value for `timeout` (> 0): at most 8 digits and a unit, rounded up.
std::string timeout_header(std::chrono::milliseconds timeout);

// grpc-status as a number, nullopt if absent or not a decimal number.
std::optional<uint32_t> parse_status(std::string_view value);
// grpc-message percent-decoded (invalid escapes are kept as they are, as the spec asks).
std::string decode_message(std::string_view value);

// The status a gRPC client sees for an HTTP response without grpc-status (the gRPC spec's
// mapping of HTTP codes: 400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
// UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, other UNKNOWN).
uint32_t status_from_http(uint32_t http_status);

// The final status of an answer: grpc-status / grpc-message from `trailers`, or from
// `headers` when the answer was trailers-only (no trailers map), or from :status.
struct CallStatus {
  uint32_t code = 0;
  std::string message;
};
CallStatus status_of(const HeaderMap& headers, const HeaderMap* trailers);

}  // namespace weir::http::grpc
