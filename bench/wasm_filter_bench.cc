// Per-stream cost of a plugin in the filter chain, without sockets: one stream through
// the wasm filter (context create, request headers, response headers, done/log/delete).
// Run from the repo root after `make` (reads build/plugins/*.wasm).
#include <benchmark/benchmark.h>

#include <cstdio>

#include "event/event_loop.h"
#include "extensions/filters/http/wasm/wasm_filter.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

namespace {

using namespace weir;

class StreamCallbacks : public proxy::HttpFilterCallbacks {
 public:
  void continue_request() override {}
  void continue_response() override {}
  void send_local_reply(uint32_t, std::string_view, const http::HeaderMap&,
                        std::string_view) override {}
  http::HeaderMap* request_headers() override { return &request; }
  http::HeaderMap* response_headers() override { return &response; }
  http::HeaderMap* request_trailers() override { return nullptr; }
  http::HeaderMap* response_trailers() override { return nullptr; }
  proxy::StreamInfo& stream_info() override { return info; }
  const config::Route* route() override { return nullptr; }
  const config::ClusterConfig* cluster_config(std::string_view) override { return nullptr; }
  void clear_route_cache() override {}
  void reset_stream() override {}
  http::HeaderMap request, response;
  proxy::StreamInfo info;
};

// One engine for every benchmark, as in weir.
wasm::Engine& shared_engine() {
  static std::unique_ptr<wasm::Engine> engine = [] {
    auto made = wasm::create_wasmtime_engine();
    if (!made) {
      fprintf(stderr, "engine: %s\n", made.error().c_str());
      std::abort();
    }
    return std::move(*made);
  }();
  return *engine;
}

struct Fixture {
  stats::StatsStore stats;
  std::shared_ptr<proxy::HttpFilterDefinition> definition;
  std::unique_ptr<event::EventLoop> loop;
  std::unique_ptr<proxy::HttpFilterFactory> factory;

  explicit Fixture(const char* wasm_path) {
    config::WasmPluginConfig c;
    c.name = c.root_id = c.vm_id = "stat_filter";
    c.code_filename = wasm_path;
    auto d = extensions::wasm::create_wasm_filter_definition(c, shared_engine(), stats);
    if (!d) {
      fprintf(stderr, "%s: %s\n", wasm_path, d.error().c_str());
      return;
    }
    definition = *d;
    loop = std::make_unique<event::EventLoop>();
    proxy::WorkerContext worker{*loop, stats, 0, nullptr};
    auto made = definition->create_worker_factory(worker);
    if (!made) {
      fprintf(stderr, "%s: %s\n", wasm_path, made.error().c_str());
      return;
    }
    factory = std::move(*made);
  }
  ~Fixture() {
    factory.reset();
    if (definition) definition->shutdown();
    definition.reset();
  }
};

void run_streams(benchmark::State& state, const char* wasm_path) {
  Fixture f(wasm_path);
  if (!f.factory) {
    state.SkipWithError("plugin not available");
    return;
  }
  StreamCallbacks cb;
  cb.request.add(":method", "GET");
  cb.request.add(":path", "/");
  cb.request.add(":authority", "example.com");
  cb.request.add("user-agent", "bench");
  cb.response.add(":status", "200");
  cb.response.add("content-length", "16");
  for (auto _ : state) {
    auto filter = f.factory->create_filter(cb);
    filter->on_request_headers(cb.request, true);
    filter->on_response_headers(cb.response, false);
    std::string body = "hello from mock\n";
    filter->on_response_body(body, true);
    filter->on_stream_complete();
  }
}

void BM_CppStatFilterStream(benchmark::State& s) {
  run_streams(s, "build/plugins/stat_filter.wasm");
}
void BM_RustStatFilterStream(benchmark::State& s) {
  run_streams(s, "build/plugins/rust_stat_filter_v02.wasm");
}
void BM_GoStatFilterStream(benchmark::State& s) {
  run_streams(s, "build/plugins/go_stat_filter.wasm");
}
BENCHMARK(BM_CppStatFilterStream);
BENCHMARK(BM_RustStatFilterStream);
BENCHMARK(BM_GoStatFilterStream);

}  // namespace
