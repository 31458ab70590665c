#pragma once
// Higress's proxy_redis_call on a worker. Each call takes a connection to the cluster from
// a small per-worker pool, keyed by what was set up on it (cluster, username, password,
// database): a reused connection is already authenticated and on its database, so only
// the plugin's RESP command goes out; a new one (to an endpoint chosen round robin) sends
// AUTH / SELECT first. One call at a time per connection (no pipelining). A connection goes
// back to the pool only after a clean exchange; a failure (timeout, a reply that is not
// RESP or too large, a refused AUTH) closes that connection alone, and one the server
// closes while idle is dropped. Connections count in the cluster's upstream_cx_total /
// upstream_cx_active.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "event/event_loop.h"
#include "proxy/cluster_manager.h"
#include "proxy_wasm/worker_services.h"

namespace weir::extensions::wasm {

class RedisCalls {
 public:
  using FindCluster = std::function<const proxy::Cluster*(std::string_view)>;
  // Idle connections kept per pool key; more in use at once are closed after their call.
  static constexpr size_t kMaxIdlePerKey = 4;

  RedisCalls(event::EventLoop& loop, FindCluster find_cluster);
  ~RedisCalls();  // closes what is in flight (their completions never run) and the pool

  // As ClusterCalls::dispatch_redis: 0 for an unknown cluster; otherwise an id (with the
  // top bit set, so it never equals an HTTP call's) and `done` runs once, later.
  uint64_t dispatch(const proxy_wasm::RedisRequest& request,
                    proxy_wasm::ClusterCalls::Completion done);
  // The completion of a cancelled call never runs; its connection is closed.
  void cancel(uint64_t id);
  static bool owns(uint64_t id) { return (id & kIdBit) != 0; }

  size_t idle_connections() const;

 private:
  class Call;
  class Link;
  static constexpr uint64_t kIdBit = 1ull << 63;
  void finish(uint64_t id, proxy_wasm::ClusterResponse response);
  std::unique_ptr<Link> take_idle(const std::string& key);
  void put_idle(std::unique_ptr<Link> link);
  void drop_idle(Link* link);  // closed or desynchronized while idle

  event::EventLoop& loop_;
  FindCluster find_cluster_;
  uint64_t next_id_ = 1;
  uint64_t next_endpoint_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Link>>> idle_;
};

}  // namespace weir::extensions::wasm
