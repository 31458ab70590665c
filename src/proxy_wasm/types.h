#pragma once
// Proxy-Wasm ABI constants shared by the host layer and its users.
#include <chrono>
#include <cstdint>
#include <string_view>

namespace weir::proxy_wasm {

// V0_2_100: Higress's proxy_abi_version_0_2_100, which is 0.2.1 plus Higress's host
// functions (proxy_redis_init, proxy_redis_call, ...) and callbacks
// (proxy_on_redis_call_response); see docs/ABI.md "Higress".
enum class AbiVersion : uint8_t { V0_1_0 = 0, V0_2_0 = 1, V0_2_1 = 2, V0_2_100 = 3 };
std::string_view abi_version_name(AbiVersion v);

// proxy_status_t
enum class WasmResult : int32_t {
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

// proxy_buffer_type_t (0.1.0 stops at GrpcReceiveBuffer; weir, like Envoy, accepts 6 and 7
// whatever the version).
enum class BufferType : uint32_t {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,           // FOREIGN_FUNCTION_ARGUMENTS
  RedisCallResponse = 9,  // Higress (0.2.100): the raw RESP reply of a proxy_redis_call
  Max = 9,
};

// proxy_map_type_t
enum class MapType : uint32_t {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
  Max = 7,
};

// proxy_stream_type_t
enum class StreamType : uint32_t { Request = 0, Response = 1, Downstream = 2, Upstream = 3 };

// proxy_peer_type_t: who closed a network stream's connection.
enum class PeerType : uint32_t { Unknown = 0, Local = 1, Remote = 2 };

// proxy_metric_type_t
enum class MetricType : uint32_t { Counter = 0, Gauge = 1, Histogram = 2 };

// proxy_log_level_t
enum class LogLevel : uint32_t {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5
};

// What the host does after a stream callback returned (already interpreted per callback
// kind, as Envoy / proxy-wasm-cpp-host run it; see HOST-NOTES).
enum class Action : uint8_t {
  Continue,      // go on
  Pause,         // headers 1, trailers != 0: stop until continue_stream / local reply; the
                 // body callbacks still run, and Continue from one resumes (Envoy's
                 // StopIteration)
  StopAll,       // headers 3/4+: stop headers and body; no body callback until resumed
  Buffer,        // body 1/2: keep the bytes, call again with the accumulated body
  StopNoBuffer,  // body >= 3: stop until continue_stream
  LocalReply,    // the plugin sent a local response during the callback: stop
  Failed,        // the VM died during the callback (trap, proc_exit, timeout, memory)
};

// WASI errno values.
namespace wasi_errno {
constexpr int32_t kSuccess = 0;
constexpr int32_t kBadf = 8;
constexpr int32_t kFault = 21;
constexpr int32_t kInval = 28;
constexpr int32_t kNosys = 52;
constexpr int32_t kNotsup = 58;
constexpr int32_t kSpipe = 70;
}  // namespace wasi_errno

// FAIL_RELOAD backoff: first retry after this, doubling up to the max.
constexpr std::chrono::milliseconds kReloadBackoffInitial{1000};
constexpr std::chrono::milliseconds kReloadBackoffMax{30000};

}  // namespace weir::proxy_wasm
