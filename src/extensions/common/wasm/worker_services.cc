#include "extensions/common/wasm/worker_services.h"

#include "event/event_loop.h"
#include "extensions/common/wasm/grpc_calls.h"
#include "extensions/common/wasm/redis_calls.h"
#include "proxy/async_http_client.h"

namespace weir::extensions::wasm {

namespace pw = ::weir::proxy_wasm;

namespace {

class LoopScheduler final : public pw::WorkerScheduler {
 public:
  explicit LoopScheduler(event::EventLoop& loop) : loop_(loop) {}
  TimerId add_timer(std::chrono::milliseconds delay, std::function<void()> fn) override {
    return loop_.add_timer(delay, std::move(fn));
  }
  void cancel_timer(TimerId id) override { loop_.cancel_timer(id); }
  void post(std::function<void()> fn) override { loop_.post(std::move(fn)); }

 private:
  event::EventLoop& loop_;
};

class AsyncClusterCalls final : public pw::ClusterCalls {
 public:
  AsyncClusterCalls(event::EventLoop& loop, proxy::AsyncHttpClient& client)
      : client_(client),
        redis_(loop, [&client](std::string_view name) { return client.find_cluster(name); }),
        grpc_(loop, client) {}

  uint64_t dispatch_http(pw::ClusterRequest request, Completion done) override {
    return client_.send(request.cluster, std::move(request.headers), std::move(request.body),
                        std::move(request.trailers), request.timeout,
                        request.max_response_body_bytes,
                        [done = std::move(done)](proxy::AsyncHttpResponse& r) {
                          pw::ClusterResponse response{r.ok,
                                                       r.body_too_large,
                                                       std::move(r.failure),
                                                       std::move(r.headers),
                                                       std::move(r.body),
                                                       std::move(r.trailers)};
                          done(response);
                        });
  }
  void cancel(uint64_t id) override {
    if (RedisCalls::owns(id)) {
      redis_.cancel(id);
    } else if (GrpcCalls::owns(id)) {
      grpc_.cancel(id);
    } else {
      client_.cancel(id);
    }
  }
  bool has_cluster(std::string_view cluster) const override { return client_.has_cluster(cluster); }
  uint64_t dispatch_redis(pw::RedisRequest request, Completion done) override {
    return redis_.dispatch(request, std::move(done));
  }
  uint64_t start_grpc(pw::GrpcRequest request, pw::GrpcEvents events) override {
    return grpc_.start(std::move(request), std::move(events));
  }
  bool send_grpc(uint64_t id, std::string_view message, bool end_stream) override {
    return grpc_.send(id, message, end_stream);
  }
  void half_close_grpc(uint64_t id) override { grpc_.half_close(id); }

 private:
  proxy::AsyncHttpClient& client_;
  RedisCalls redis_;
  GrpcCalls grpc_;
};

}  // namespace

void attach_worker_services(pw::WorkerRuntime& runtime, proxy::WorkerContext& worker) {
  std::shared_ptr<pw::ClusterCalls> calls;
  if (worker.http_client) {
    calls = std::make_shared<AsyncClusterCalls>(worker.loop, *worker.http_client);
  }
  runtime.attach_worker(std::make_shared<LoopScheduler>(worker.loop), std::move(calls));
}

Result<std::shared_ptr<pw::WorkerPlugin>> start_worker_plugin(
    std::shared_ptr<const pw::PluginSpec> spec, std::shared_ptr<const pw::PluginModule> module,
    ::weir::wasm::Engine& engine, proxy::WorkerContext& worker) {
  auto rt = pw::WorkerRuntime::for_current_thread(engine, worker.stats);
  if (!rt.ok()) return Error{rt.error()};
  attach_worker_services(*rt.value(), worker);
  auto plugin = pw::WorkerPlugin::create(std::move(spec), std::move(module), rt.value());
  if (!plugin.ok()) {
    return Error{"starting on worker " + std::to_string(worker.worker_index) +
                 " failed: " + plugin.error()};
  }
  return std::move(plugin.value());
}

}  // namespace weir::extensions::wasm
