#pragma once
// gRPC calls and streams a worker makes for its plugins
// (ClusterCalls::start_grpc): each is one HTTP/2 stream of the worker's
// AsyncHttpClient to an endpoint of the cluster, POST /<service>/<method> with
// content-type application/grpc and te: trailers, length-prefixed messages both
// ways, and the status from the trailers (http/grpc.h).
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "event/event_loop.h"
#include "proxy/async_http_client.h"
#include "proxy_wasm/worker_services.h"

namespace weir::extensions::wasm {

class GrpcCalls {
 public:
  GrpcCalls(event::EventLoop& loop, proxy::AsyncHttpClient& client);
  ~GrpcCalls();  // resets what is in flight; their events never run

  // As ClusterCalls::start_grpc: 0 for an unknown cluster; otherwise an id (bit
  // 62 set, so it never equals an HTTP or Redis call's). A cluster that does
  // not speak HTTP/2 fails the stream (UNAVAILABLE, later, with the reason in
  // the log).
  uint64_t start(proxy_wasm::GrpcRequest request, proxy_wasm::GrpcEvents events);
  bool send(uint64_t id, std::string_view message, bool end_stream);
  void half_close(uint64_t id);
  // No event of a cancelled stream runs afterwards, even when cancelled from
  // inside one.
  void cancel(uint64_t id);
  static bool owns(uint64_t id) { return (id & kIdBit) != 0 && (id & (1ull << 63)) == 0; }

 private:
  class Stream;
  static constexpr uint64_t kIdBit = 1ull << 62;
  // Resets the stream's HTTP/2 stream (no callback for it runs afterwards).
  void reset_http(Stream& stream);
  // Drops the stream; freed after the current callback (it may be the stream's
  // own).
  void forget(uint64_t id);

  event::EventLoop& loop_;
  proxy::AsyncHttpClient& client_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Stream>> streams_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for posted work
};

}  // namespace weir::extensions::wasm
