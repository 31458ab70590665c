#pragma once
// What the Proxy-Wasm host layer needs from the worker its VMs run on, as interfaces of
// its own, so that src/proxy_wasm includes nothing from src/proxy, src/net or src/event:
// - ClusterCalls: requests to configured clusters on a plugin's behalf (proxy_http_call,
//   Higress's Redis calls, gRPC calls and streams);
// - WorkerScheduler: the worker's timers (proxy_on_tick) and wake-ups posted from other
//   threads (proxy_on_queue_ready).
// src/extensions/common/wasm/worker_services.* implements both over the worker's event
// loop and its AsyncHttpClient; unit tests may implement them with fakes.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/header_map.h"

namespace weir::proxy_wasm {

// The answer to one call, as the plugin reads it during proxy_on_http_call_response.
struct ClusterResponse {
  bool ok = false;              // false: connect failure, reset, timeout or body too large
  bool body_too_large = false;  // the body passed the call's bound: reading stopped there
  std::string failure;          // why, when !ok
  http::HeaderMap headers;      // with :status
  std::string body;
  http::HeaderMap trailers;
};

struct ClusterRequest {
  std::string_view cluster;
  http::HeaderMap headers;  // with :method, :path, :authority
  std::string body;
  std::optional<http::HeaderMap> trailers;
  std::chrono::milliseconds timeout{0};  // 0: none
  uint64_t max_response_body_bytes = 0;  // past it the call fails (body_too_large)
};

// One Redis command for Higress's proxy_redis_call: `query` is RESP as the plugin encoded
// it, sent as is; the answer is the raw RESP reply (ClusterResponse::body).
struct RedisRequest {
  std::string_view cluster;
  std::string query;
  std::string username;  // proxy_redis_init's; AUTH is sent first when password is set
  std::string password;
  uint32_t database = 0;                 // SELECT first when not 0 (cluster "name?db=N")
  std::chrono::milliseconds timeout{0};  // the whole exchange; 0: none
  uint64_t max_reply_bytes = 0;          // past it the call fails (body_too_large)
};

// One gRPC call or stream to a cluster (proxy_grpc_call / proxy_grpc_stream): the
// transport sends POST /<service>/<method> with content-type application/grpc and
// te: trailers over HTTP/2, the metadata as headers, and each message length-prefixed.
struct GrpcRequest {
  std::string cluster;
  std::string authority;  // :authority
  std::string service;    // "package.Service"
  std::string method;
  http::HeaderMap initial_metadata;
  std::chrono::milliseconds timeout{0};  // the whole call (and grpc-timeout); 0: none
  uint64_t max_message_bytes = 0;        // a received message past it: RESOURCE_EXHAUSTED
};

// What a gRPC stream delivers, in this order, on the worker's thread: initial metadata
// (at most once), messages, trailing metadata (at most once), then close exactly once with
// the status (0 OK) and its message (e.g. UNAVAILABLE 14 when the cluster has no reachable
// endpoint, DEADLINE_EXCEEDED 4 past the timeout), unless the stream is cancelled first.
// A trailers-only answer gives no initial metadata; its headers are the trailing metadata.
struct GrpcEvents {
  std::function<void(http::HeaderMap& metadata)> initial_metadata;
  std::function<void(std::string& message)> message;
  std::function<void(http::HeaderMap& metadata)> trailing_metadata;
  std::function<void(uint32_t status, std::string_view message)> close;
};

class ClusterCalls {
 public:
  using Completion = std::function<void(ClusterResponse& response)>;
  virtual ~ClusterCalls() = default;
  // Sends `request`. Returns 0 if the cluster is unknown (`done` never runs); otherwise
  // an id, and `done` runs exactly once, later, on this worker's thread (never inside
  // dispatch_http()), unless the call is cancelled first.
  virtual uint64_t dispatch_http(ClusterRequest request, Completion done) = 0;
  // The completion of a cancelled call never runs.
  virtual void cancel(uint64_t id) = 0;
  // Whether `cluster` is configured (proxy_redis_init checks it).
  virtual bool has_cluster(std::string_view cluster) const = 0;
  // Sends one Redis command to an endpoint of `request.cluster` over TCP: as dispatch_http
  // (0: unknown cluster). `done` gets ok with the reply in `body`, or !ok with `failure`
  // (connect error, closed, timeout, malformed or too large a reply). Cancel with cancel().
  virtual uint64_t dispatch_redis(RedisRequest request, Completion done) = 0;

  // Opens a gRPC stream (a unary call is a stream with one message and end_stream) to
  // `request.cluster`: 0 if the cluster is unknown (no event runs); otherwise an id, and
  // the events run later, never inside start_grpc(), send_grpc() or cancel(). cancel(id)
  // resets the stream: no event runs after it (also when called from inside an event).
  virtual uint64_t start_grpc(GrpcRequest request, GrpcEvents events) = 0;
  // Sends one message (the transport frames it); end_stream half-closes after it. False if
  // the stream is closed for sending or gone.
  virtual bool send_grpc(uint64_t id, std::string_view message, bool end_stream) = 0;
  // Half-closes the stream (an empty DATA frame with END_STREAM) if not yet done.
  virtual void half_close_grpc(uint64_t id) = 0;
};

class WorkerScheduler {
 public:
  using TimerId = uint64_t;  // never 0
  virtual ~WorkerScheduler() = default;
  // Runs `fn` once on this worker's thread after `delay`.
  virtual TimerId add_timer(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  virtual void cancel_timer(TimerId id) = 0;
  // From any thread: runs `fn` on this worker's thread soon.
  virtual void post(std::function<void()> fn) = 0;
};

}  // namespace weir::proxy_wasm
