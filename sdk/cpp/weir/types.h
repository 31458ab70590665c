#pragma once
// Proxy-Wasm ABI 0.2.1 enumerations, as plain C++ (no host calls): usable from native code
// and tests as well as from plugins.
#include <cstdint>

namespace weir {

// What every host function returns.
enum class Status : uint32_t {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  InternalFailure = 10,
  Unimplemented = 12,
};

// Short name of a status, for log messages ("ok", "not_found", ...).
constexpr const char* status_name(Status s) {
  switch (s) {
    case Status::Ok:
      return "ok";
    case Status::NotFound:
      return "not_found";
    case Status::BadArgument:
      return "bad_argument";
    case Status::SerializationFailure:
      return "serialization_failure";
    case Status::ParseFailure:
      return "parse_failure";
    case Status::InvalidMemoryAccess:
      return "invalid_memory_access";
    case Status::Empty:
      return "empty";
    case Status::CasMismatch:
      return "cas_mismatch";
    case Status::InternalFailure:
      return "internal_failure";
    case Status::Unimplemented:
      return "unimplemented";
  }
  return "unknown";
}

// What an HTTP callback returns.
//  - headers callbacks: Continue, or Pause = stop the stream in this direction (headers and
//    body) until continue_request()/continue_response() or send_local_response(). Sent to
//    the host as 4 (StopAllIterationAndWatermark): no body callback runs meanwhile.
//  - body callbacks: Continue = these bytes go on; Pause = the host keeps (buffers) them and
//    calls again with the accumulated size, until you return Continue (typically at
//    end_of_stream). get_buffer() then sees the whole buffered body.
//  - trailers callbacks: Continue, or Pause until resumed.
//  - network data callbacks: Continue = the bytes held so far (as the callback left them)
//    go on; Pause = they stay held, later bytes are added and the callback runs again with
//    all of them, until you return Continue or call continue_downstream().
//  - on_new_connection: Pause delays the upstream connect until continue_downstream() (or
//    the client's first bytes).
enum class Action : uint32_t {
  Continue = 0,
  Pause = 1,
};

enum class LogLevel : uint32_t {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
};

enum class BufferType : uint32_t {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,  // foreign function arguments
};

enum class MapType : uint32_t {
  HttpRequestHeaders = 0,
  HttpRequestTrailers = 1,
  HttpResponseHeaders = 2,
  HttpResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
};

enum class StreamType : uint32_t {
  HttpRequest = 0,
  HttpResponse = 1,
  Downstream = 2,
  Upstream = 3,
};

// Who closed a network connection (NetworkContext::on_*_connection_close).
enum class PeerType : uint32_t {
  Unknown = 0,
  Local = 1,   // the proxy closed it
  Remote = 2,  // the peer closed or reset it
};

enum class MetricType : uint32_t {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
};

}  // namespace weir
