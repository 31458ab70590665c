#pragma once
// What the Proxy-Wasm host layer needs from the worker its VMs run on, as interfaces of
// its own, so that src/proxy_wasm includes nothing from src/proxy, src/net or src/event:
// - ClusterCalls: requests to configured clusters on a plugin's behalf (proxy_http_call;
//   gRPC calls will be a second kind of call through the same interface);
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
