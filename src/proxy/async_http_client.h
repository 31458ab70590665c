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

 private:
  class Call;
  void finish(uint64_t id, AsyncHttpResponse response);

  event::EventLoop& loop_;
  std::function<UpstreamPool*(std::string_view)> find_pool_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
};

}  // namespace weir::proxy
