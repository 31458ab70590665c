#pragma once
// Requests a worker sends on its own behalf (a plugin's proxy_http_call): whole request
// in, whole response out, through the same upstream pools as proxied traffic.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "event/event_loop.h"
#include "http/header_map.h"
#include "proxy/upstream_pool.h"

namespace weir::proxy {

struct AsyncHttpResponse {
  bool ok = false;              // false: connect failure, reset, timeout or body too large
  bool body_too_large = false;  // the body passed the call's bound: reading stopped there
  std::string failure;          // why, when !ok
  http::HeaderMap headers;      // with :status
  std::string body;
  http::HeaderMap trailers;
};

// What a streaming call (start_stream) tells its owner. Contract:
// - Every callback runs on the client's loop, later than the call that caused it: never
//   inside start_stream, send_data, send_trailers, set_reading or reset.
// - In order: on_headers once (the response head, :status first; end_stream: no body
//   follows), on_data zero or more times (the last with end_stream unless trailers
//   follow), on_trailers at most once, then exactly one of on_complete or on_reset.
//   on_reset may come at any point instead and ends the stream; `reason` says why, for
//   logs and messages: "timeout" (the stream's own), "remote reset (error code N)" (the
//   upstream's RST_STREAM), "remote refused stream reset" (REFUSED_STREAM or above a
//   GOAWAY: the request was not processed), "protocol error" (a malformed response, or
//   the connection broke HTTP/2), "upstream connection closed", "connect timeout", or
//   the connect error (TLS: "TLS handshake failed: ...").
// - After on_complete, on_reset or reset(id), nothing more is called for the stream, and
//   the id is forgotten (calls with it are ignored).
// - Callbacks may call send_data, send_trailers, set_reading and reset, for any stream.
class AsyncStreamCallbacks {
 public:
  virtual ~AsyncStreamCallbacks() = default;
  virtual void on_headers(http::HeaderMap& headers, bool end_stream) = 0;
  // `data` is only valid during the call.
  virtual void on_data(std::string_view data, bool end_stream) = 0;
  virtual void on_trailers(http::HeaderMap& trailers) = 0;
  virtual void on_complete() = 0;
  virtual void on_reset(std::string_view reason) = 0;
};

class AsyncHttpClient {
 public:
  using Callback = std::function<void(AsyncHttpResponse& response)>;
  // `first_id`: where this client's call ids start; a worker that has several clients
  // (one per configuration, across a reload) keeps their ids apart.
  AsyncHttpClient(event::EventLoop& loop, std::function<UpstreamPool*(std::string_view)> find_pool,
                  uint64_t first_id = 1);
  ~AsyncHttpClient();  // cancels what is in flight; their callbacks never run

  bool has_cluster(std::string_view cluster) const { return find_pool_(cluster) != nullptr; }
  // The cluster's config and endpoints, for a worker's other clients (Redis calls).
  const Cluster* find_cluster(std::string_view cluster) const {
    UpstreamPool* pool = find_pool_(cluster);
    return pool ? &pool->cluster() : nullptr;
  }
  // Sends `headers` (with :method, :path, :authority), `body` and `trailers` to `cluster`.
  // Returns 0 if the cluster is unknown; otherwise an id, and `callback` runs exactly once,
  // later, on this loop (never inside send()). A zero timeout means none. A response body
  // longer than `max_response_body_bytes` fails the call (body_too_large) as soon as it
  // passes the bound: the upstream connection is closed, nothing more is buffered.
  uint64_t send(std::string_view cluster, http::HeaderMap headers, std::string body,
                std::optional<http::HeaderMap> trailers, std::chrono::milliseconds timeout,
                uint64_t max_response_body_bytes, Callback callback);
  // The callback of a cancelled request never runs.
  void cancel(uint64_t id);
  size_t in_flight() const { return calls_.size(); }

  // Streaming (gRPC calls and streams): an HTTP/2 stream to `cluster` whose request body
  // and trailers are sent as the caller has them and whose response is handed over as it
  // arrives (see AsyncStreamCallbacks for the order and re-entrancy rules). Only for
  // clusters that speak HTTP/2 (explicit http2_protocol_options, or
  // use_downstream_protocol_config, which then uses HTTP/2): an unknown or HTTP/1 cluster
  // is an error, returned at once. `headers` carries :method, :path, :authority (and the
  // request's fields; hop-by-hop ones are dropped, :scheme is set from the cluster's
  // transport). The headers go out after start_stream returns; send_data/send_trailers
  // called before that are queued in order. `timeout` (zero: none) bounds the whole
  // stream: past it the stream is reset and on_reset("timeout") runs. `callbacks` must
  // outlive the stream (until on_complete/on_reset, or reset()).
  Result<uint64_t> start_stream(std::string_view cluster, http::HeaderMap headers,
                                AsyncStreamCallbacks& callbacks, std::chrono::milliseconds timeout);
  // Request body; end_stream ends the request (half-close). Ignored after the request
  // ended, or for an unknown id (false). Also refused (false, nothing taken) while the
  // stream's unsent data is over the cluster's per_connection_buffer_limit_bytes: the
  // sender tries again later (an empty end of stream is always taken).
  bool send_data(uint64_t id, std::string_view data, bool end_stream);
  // Request trailers; they end the request.
  bool send_trailers(uint64_t id, const http::HeaderMap& trailers);
  // Flow control: while off, response data is held back (the upstream's window for the
  // stream closes, so at most initial_stream_window_size bytes wait) and no callback runs.
  void set_reading(uint64_t id, bool reading);
  // Resets the stream (RST_STREAM CANCEL). No callback runs for it afterwards.
  void reset(uint64_t id);
  size_t streams_in_flight() const { return streams_.size(); }

 private:
  class Call;
  class StreamCall;
  void finish(uint64_t id, AsyncHttpResponse response);
  // The stream ended (completed, failed, reset): forgotten, freed after the callback.
  void forget_stream(uint64_t id);

  event::EventLoop& loop_;
  std::function<UpstreamPool*(std::string_view)> find_pool_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
  std::unordered_map<uint64_t, std::unique_ptr<StreamCall>> streams_;
};

}  // namespace weir::proxy
