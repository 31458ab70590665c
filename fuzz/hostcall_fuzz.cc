// Random Proxy-Wasm host calls with random arguments, through weir's real host functions
// (src/proxy_wasm) on the real Wasmtime engine. The guest, fuzz/hostcall_fuzz_plugin.c,
// reads the input as a script of host calls (valid, out-of-range and overlapping
// pointers, any sizes, map and buffer types, an allocator that fails, lies or re-enters)
// and runs it from the request body callback, then from the other callbacks this harness
// drives. Whatever the script does, the host must not crash, read or write outside the
// guest's memory or its own objects, or grow without bound; the plugin may trap (its VM
// then fails, and the next input gets a new one).
//
// Input layout: byte 0 chooses which further callbacks run (bits below); the rest is the
// script. The plugin's .wasm path comes from WEIR_HOSTCALL_FUZZ_PLUGIN (set by the build).
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "fuzz_check.h"
#include "proxy_wasm/stream_host.h"
#include "proxy_wasm/vm.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

#ifndef WEIR_HOSTCALL_FUZZ_PLUGIN
#define WEIR_HOSTCALL_FUZZ_PLUGIN "hostcall_fuzz_plugin.wasm"
#endif

namespace weir::proxy_wasm {
namespace {

enum Option : uint8_t {
  kEndOfStreamWithBody = 1 << 0,
  kRequestTrailers = 1 << 1,
  kResponse = 1 << 2,
  kTick = 1 << 3,
  kNoBody = 1 << 4,   // the body callback then sees no buffer (script read fails)
  kFreshVm = 1 << 5,  // a new VM for this input, even if the last one is alive
};

// A stream with every map and both bodies, as the HTTP filter offers them.
class FuzzStream : public StreamHost {
 public:
  http::HeaderMap maps[4];
  std::string request_body;
  std::string response_body;
  bool bodies = true;
  int local_replies = 0;

  http::HeaderMap* header_map(MapType t) override {
    const auto i = static_cast<size_t>(t);
    FUZZ_CHECK(i < 4);  // the host layer resolves the other types itself
    return &maps[i];
  }
  std::string* body_buffer(BufferType t) override {
    FUZZ_CHECK(t == BufferType::HttpRequestBody || t == BufferType::HttpResponseBody ||
               t == BufferType::DownstreamData || t == BufferType::UpstreamData);
    if (!bodies || t == BufferType::DownstreamData || t == BufferType::UpstreamData) return nullptr;
    return t == BufferType::HttpRequestBody ? &request_body : &response_body;
  }
  void send_local_response(uint32_t status, std::string_view body, http::HeaderMap headers,
                           std::string_view details, uint32_t) override {
    ++local_replies;
  }
  WasmResult continue_stream(StreamType) override { return WasmResult::Ok; }
  WasmResult close_stream(StreamType) override { return WasmResult::Ok; }
  void clear_route_cache() override {}
  bool get_stream_property(std::string_view path, std::string& out) override {
    if (path == std::string_view("source\0address", 14)) {
      out = "10.0.0.1:1234";
      return true;
    }
    return false;
  }
};

struct Harness {
  std::unique_ptr<wasm::Engine> engine;
  stats::StatsStore stats;
  std::shared_ptr<const PluginModule> module;
  std::shared_ptr<WorkerRuntime> runtime;
  std::shared_ptr<PluginSpec> spec;
  std::shared_ptr<WorkerPlugin> plugin;

  Harness() {
    spdlog::set_level(spdlog::level::off);  // plugins log a lot; the checks are ASan's
    auto e = wasm::create_wasmtime_engine();
    FUZZ_CHECK(e.ok());
    engine = std::move(e.value());
    const char* path = std::getenv("WEIR_HOSTCALL_FUZZ_PLUGIN");
    std::ifstream in(path ? path : WEIR_HOSTCALL_FUZZ_PLUGIN, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.empty()) {
      std::fprintf(stderr, "hostcall fuzz: cannot read the plugin %s\n",
                   path ? path : WEIR_HOSTCALL_FUZZ_PLUGIN);
      std::abort();
    }
    auto compiled = compile_shared(*engine, bytes);
    FUZZ_CHECK(compiled.ok());
    auto m = PluginModule::create(compiled.value(), "hostcall_fuzz");
    FUZZ_CHECK(m.ok());
    module = m.value();
    auto rt = WorkerRuntime::for_current_thread(*engine, stats);
    FUZZ_CHECK(rt.ok());
    runtime = rt.value();
    spec = std::make_shared<PluginSpec>();
    spec->name = "hostcall_fuzz";
    spec->root_id = "";
    spec->vm_id = "hostcall_fuzz";
    spec->plugin_configuration = "{\"fuzz\": true}";
    spec->vm_configuration = "vm-config";
    spec->environment = {"FUZZ=1"};
    // Small limits, so that the script reaches them.
    spec->limits.max_memory_bytes = 8u * 1024 * 1024;
    spec->limits.call_deadline = std::chrono::milliseconds(500);
    spec->limits.max_outstanding_calls = 8;
    spec->limits.max_shared_queue_items = 64;
    spec->limits.max_shared_data_bytes = 64 * 1024;
    spec->limits.max_log_line_bytes = 256;
  }

  // A live VM and its root context, made anew when the last one failed.
  bool acquire(bool fresh, std::shared_ptr<Vm>& vm, RootContext*& root) {
    if (fresh || !plugin) {
      plugin.reset();
      auto wp = WorkerPlugin::create(spec, module, runtime);
      FUZZ_CHECK(wp.ok());
      plugin = wp.value();
    }
    WorkerPlugin::Decision d = plugin->acquire(vm, root);
    if (d != WorkerPlugin::Decision::Use) {
      plugin.reset();  // failed: the next input starts over
      return false;
    }
    return true;
  }
};

Harness& harness() {
  static Harness* h = new Harness();  // never destroyed: the engine outlives every run
  return *h;
}

void run(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const uint8_t options = data[0];
  Harness& h = harness();
  std::shared_ptr<Vm> vm;
  RootContext* root = nullptr;
  if (!h.acquire(options & kFreshVm, vm, root)) return;

  FuzzStream stream;
  stream.maps[0].add(":method", "POST");
  stream.maps[0].add(":path", "/fuzz?q=1");
  stream.maps[0].add(":authority", "example.com");
  stream.maps[0].add("x-one", "1");
  stream.maps[1].add("x-trailer", "t");
  stream.maps[2].add(":status", "200");
  stream.maps[2].add("content-type", "text/plain");
  stream.maps[3].add("grpc-status", "0");
  stream.request_body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  stream.response_body = "response body";
  stream.bodies = !(options & kNoBody);
  {
    StreamContext ctx(vm, root, &stream);
    if (ctx.create()) {
      const bool eos = options & kEndOfStreamWithBody;
      Action a = ctx.on_request_headers(static_cast<uint32_t>(stream.maps[0].size()), false);
      if (a != Action::Failed && a != Action::LocalReply) {
        a = ctx.on_request_body(static_cast<uint32_t>(size - 1), eos);
      }
      if (a != Action::Failed && a != Action::LocalReply && !eos && (options & kRequestTrailers)) {
        a = ctx.on_request_trailers(static_cast<uint32_t>(stream.maps[1].size()));
      }
      if (a != Action::Failed && a != Action::LocalReply && (options & kResponse)) {
        a = ctx.on_response_headers(static_cast<uint32_t>(stream.maps[2].size()), false);
        if (a != Action::Failed && a != Action::LocalReply) {
          a = ctx.on_response_body(static_cast<uint32_t>(stream.response_body.size()), true);
        }
      }
      ctx.finish();
    }
  }
  if ((options & kTick) && vm->alive()) root->on_tick();
  // Whatever happened, the maps are still maps (lower-case names were the host's to keep).
  for (const auto& map : stream.maps) FUZZ_CHECK(map.size() < 1000000);
}

}  // namespace
}  // namespace weir::proxy_wasm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weir::proxy_wasm::run(data, size);
  return 0;
}
