#pragma once
// Higress's proxy_redis_call on a worker: each call opens a TCP connection to an endpoint
// of the cluster (round robin), sends AUTH / SELECT when asked, then the plugin's RESP
// command, and hands back the raw reply. One connection per call keeps a failure (a
// timeout, a reply too large) from affecting any other call; Higress pools them.
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "event/event_loop.h"
#include "proxy/cluster_manager.h"
#include "proxy_wasm/worker_services.h"

namespace weir::extensions::wasm {

class RedisCalls {
 public:
  using FindCluster = std::function<const proxy::Cluster*(std::string_view)>;
  RedisCalls(event::EventLoop& loop, FindCluster find_cluster);
  ~RedisCalls();  // closes what is in flight; their completions never run

  // As ClusterCalls::dispatch_redis: 0 for an unknown cluster; otherwise an id (with the
  // top bit set, so it never equals an HTTP call's) and `done` runs once, later.
  uint64_t dispatch(proxy_wasm::RedisRequest request, proxy_wasm::ClusterCalls::Completion done);
  // The completion of a cancelled call never runs.
  void cancel(uint64_t id);
  static bool owns(uint64_t id) { return (id & kIdBit) != 0; }

 private:
  class Call;
  static constexpr uint64_t kIdBit = 1ull << 63;
  void finish(uint64_t id, proxy_wasm::ClusterResponse response);

  event::EventLoop& loop_;
  FindCluster find_cluster_;
  uint64_t next_id_ = 1;
  uint64_t next_endpoint_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
};

}  // namespace weir::extensions::wasm
