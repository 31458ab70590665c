// A hostile plugin against the Proxy-Wasm host layer (src/proxy_wasm), through the engine
// interface only: tests/plugins/c/hostile_plugin.c, built with clang-14 at test time. Its
// allocator re-enters the host in the middle of each host call that returns data; the
// host must stay up and answer what the data was when the call was made. Also the bounds
// on host-side resources a plugin can grow (vm_config.weir_limits), plugin metric names,
// and pointer/length checks of WASI calls.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include "plugin_test_support.h"
#include "proxy_wasm/map_serialization.h"
#include "proxy_wasm/shared_state.h"
#include "proxy_wasm/vm.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

#ifndef WEIR_TEST_DATA_DIR
#define WEIR_TEST_DATA_DIR "tests/unit/testdata"
#endif

namespace weir::proxy_wasm {
namespace {

using test_support::LogLines;
using test_support::shell;
using test_support::test_engine;

const std::string& hostile_plugin() {
  static std::string bytes = [] {
    char dir[] = "/tmp/weir_hostile_test_XXXXXX";
    std::string out = std::string(mkdtemp(dir)) + "/hostile_plugin.wasm";
    std::string log =
        shell(std::string("clang-14 --target=wasm32-wasi -mexec-model=reactor -O2 "
                          "-Wl,--strip-debug -o '") +
              out + "' '" + WEIR_TEST_DATA_DIR + "/../../plugins/c/hostile_plugin.c'");
    EXPECT_EQ(log, "");
    std::ifstream in(out, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  return bytes;
}

stats::StatsStore& store() {
  static stats::StatsStore s;
  return s;
}

// A stream whose maps and body the plugin sees; local replies, closes and continues are
// recorded.
class Stream : public StreamHost {
 public:
  http::HeaderMap request_headers;
  std::string body;
  bool has_body = false;
  struct Reply {
    uint32_t status;
    std::string body;
    std::string details;
  };
  std::vector<Reply> replies;
  int closes = 0;

  http::HeaderMap* header_map(MapType t) override {
    return t == MapType::RequestHeaders ? &request_headers : nullptr;
  }
  std::string* body_buffer(BufferType t) override {
    return t == BufferType::HttpRequestBody && has_body ? &body : nullptr;
  }
  void send_local_response(uint32_t status, std::string_view b, http::HeaderMap, std::string_view d,
                           uint32_t) override {
    replies.push_back({status, std::string(b), std::string(d)});
  }
  WasmResult continue_stream(StreamType) override { return WasmResult::Ok; }
  WasmResult close_stream(StreamType) override {
    ++closes;
    return WasmResult::Ok;
  }
  void clear_route_cache() override {}
  bool get_stream_property(std::string_view, std::string&) override { return false; }
};

struct Plugin {
  std::shared_ptr<WorkerRuntime> rt;
  std::shared_ptr<WorkerPlugin> plugin;
  std::shared_ptr<Vm> vm;
  RootContext* root = nullptr;
  std::string name;
};

std::shared_ptr<PluginSpec> hostile_spec(std::string config = "the plugin configuration") {
  static int n = 0;
  auto s = std::make_shared<PluginSpec>();
  s->name = "hostile" + std::to_string(n);
  s->root_id = "hostile";
  s->vm_id = "hostile_vm" + std::to_string(n++);  // a fresh VM (and shared state) each time
  s->plugin_configuration = std::move(config);
  return s;
}

Plugin load(std::shared_ptr<PluginSpec> spec = hostile_spec()) {
  Plugin p;
  p.name = spec->name;
  auto compiled = compile_shared(test_engine(), hostile_plugin());
  EXPECT_TRUE(compiled.ok()) << (compiled.ok() ? "" : compiled.error());
  if (!compiled.ok()) return p;
  auto module = PluginModule::create(compiled.value(), spec->name);
  EXPECT_TRUE(module.ok()) << (module.ok() ? "" : module.error());
  auto rt = WorkerRuntime::for_current_thread(test_engine(), store());
  EXPECT_TRUE(rt.ok());
  p.rt = rt.value();
  auto wp = WorkerPlugin::create(spec, module.value(), p.rt);
  EXPECT_TRUE(wp.ok()) << (wp.ok() ? "" : wp.error());
  if (!wp.ok()) return p;
  p.plugin = wp.value();
  EXPECT_EQ(p.plugin->acquire(p.vm, p.root), WorkerPlugin::Decision::Use);
  return p;
}

// The plugin's "name=value" report lines.
std::map<std::string, std::string> report_of(const std::string& body) {
  std::map<std::string, std::string> r;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    std::string line = body.substr(at, end - at);
    size_t eq = line.find('=');
    if (eq != std::string::npos) r[line.substr(0, eq)] = line.substr(eq + 1);
    at = end + 1;
  }
  return r;
}

struct Outcome {
  Action action;
  std::map<std::string, std::string> report;
};

// Runs one request through the plugin: `path`, plus the headers in `stream`.
Outcome run(Plugin& p, Stream& stream, const std::string& path) {
  stream.request_headers.set(":path", path);
  StreamContext ctx(p.vm, p.root, &stream);
  EXPECT_TRUE(ctx.create());
  Outcome o;
  o.action = ctx.on_request_headers(static_cast<uint32_t>(stream.request_headers.size()), true);
  if (o.action == Action::LocalReply && !stream.replies.empty() &&
      stream.replies.back().details == "hostile") {
    o.report = report_of(stream.replies.back().body);
  }
  return o;
}

Outcome run(Plugin& p, const std::string& path) {
  Stream stream;
  return run(p, stream, path);
}

uint64_t counter(const std::string& name) {
  for (const auto& s : store().snapshot()) {
    if (s.name == name) return static_cast<uint64_t>(s.value);
  }
  return 0;
}

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logs_ = std::make_shared<LogLines>();
    spdlog::default_logger()->sinks().push_back(logs_);
  }
  void TearDown() override {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), logs_), sinks.end());
  }
  std::shared_ptr<LogLines> logs_;
};

// ---------------------------------------------------------------- re-entrancy

TEST_F(HostileTest, MapChangedByTheAllocatorWhileBeingReturned) {
  // The crash of issue 8: the host sized the map, let the guest allocate (which added a
  // 64 KiB header), then serialized the bigger map past the block.
  Plugin p = load();
  Stream s;
  s.request_headers.add("x-one", "1");
  s.request_headers.add("x-two", "2");
  Outcome o = run(p, s, "/pairs");
  ASSERT_EQ(o.action, Action::LocalReply);
  EXPECT_EQ(o.report["status"], "0");
  // The map as it was when the call was made...
  EXPECT_EQ(o.report["count"], "3");
  EXPECT_EQ(o.report["has_attack"], "0");
  EXPECT_EQ(o.report["has_one"], "1");
  EXPECT_EQ(o.report["path"], "/pairs");
  // ...and the allocator's own host calls took effect.
  EXPECT_EQ(o.report["path_now"], "/changed");
  EXPECT_EQ(o.report["attack_len_now"], "65536");
  EXPECT_FALSE(s.request_headers.get("x-one").has_value());
  EXPECT_TRUE(p.vm->alive());
}

TEST_F(HostileTest, HeaderValueRemovedByTheAllocatorWhileBeingReturned) {
  Plugin p = load();
  Stream s;
  const std::string victim = "a header value long enough to live in its own heap block";
  s.request_headers.add("x-victim", victim);
  Outcome o = run(p, s, "/value");
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["value"], victim);
  EXPECT_EQ(o.report["victim_now"], "1");  // NOT_FOUND: the allocator removed it
  EXPECT_EQ(s.request_headers.size(), 201u);
  EXPECT_TRUE(p.vm->alive());
}

TEST_F(HostileTest, BodyReplacedByTheAllocatorWhileBeingReturned) {
  Plugin p = load();
  Stream s;
  s.request_headers.set(":path", "/body");
  s.has_body = true;
  StreamContext ctx(p.vm, p.root, &s);
  ASSERT_TRUE(ctx.create());
  EXPECT_EQ(ctx.on_request_headers(1, false), Action::Continue);
  s.body.assign(100000, 'b');
  EXPECT_EQ(ctx.on_request_body(100000, true), Action::LocalReply);
  ASSERT_EQ(s.replies.size(), 1u);
  auto r = report_of(s.replies[0].body);
  EXPECT_EQ(r["status"], "0");
  EXPECT_EQ(r["length"], "100000");
  EXPECT_EQ(r["intact"], "1");
  EXPECT_EQ(r["now"], "short");
  EXPECT_EQ(s.body, "short");
}

TEST_F(HostileTest, SharedDataSetByTheAllocatorWhileBeingReturned) {
  Plugin p = load();
  Outcome o = run(p, "/shared");
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["value"], "small value");
  EXPECT_EQ(o.report["same_cas"], "1");  // the value and its cas go together
  EXPECT_EQ(o.report["size_now"], "10240");
  EXPECT_EQ(o.report["cas_changed"], "1");
}

TEST_F(HostileTest, PropertyChangedByTheAllocatorWhileBeingReturned) {
  Plugin p = load();
  Outcome o = run(p, "/property");
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["value"], "an original value, long enough to live on the heap");
  EXPECT_EQ(o.report["value_now"], "replaced");
  Outcome headers = run(p, "/property-headers");
  EXPECT_EQ(headers.report["status"], "0");
  EXPECT_EQ(headers.report["has_path"], "1");
  EXPECT_EQ(headers.report["has_attack"], "0");
}

TEST_F(HostileTest, NestedCallsEachGetTheirOwnAnswer) {
  Plugin p = load(hostile_spec("config-42"));
  Outcome o = run(p, "/config");
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["value"], "config-42");
  EXPECT_EQ(o.report["nested_status"], "0");
  EXPECT_EQ(o.report["nested_value"], "config-42");
  Outcome q = run(p, "/dequeue");
  EXPECT_EQ(q.report["status"], "0");
  EXPECT_EQ(q.report["value"], "first");  // taken off before the allocator ran
  EXPECT_EQ(q.report["nested_status"], "0");
  EXPECT_EQ(q.report["nested_value"], "second");
}

TEST_F(HostileTest, LocalReplyAndCloseFromTheAllocator) {
  Plugin p = load();
  Stream s;
  Outcome o = run(p, s, "/local-reply");
  EXPECT_EQ(o.action, Action::LocalReply);
  ASSERT_EQ(s.replies.size(), 1u);
  EXPECT_EQ(s.replies[0].status, 403u);
  EXPECT_EQ(s.replies[0].body, "denied by the allocator");
  EXPECT_EQ(logs_->count("/local-reply: status 0"), 1u);
  Stream c;
  run(p, c, "/close");
  EXPECT_EQ(c.closes, 1);
  EXPECT_EQ(logs_->count("/close: status 0"), 1u);
  EXPECT_TRUE(p.vm->alive());
}

TEST_F(HostileTest, AnAllocatorThatKeepsReEnteringIsStoppedAtAFixedDepth) {
  Plugin p = load();
  Outcome o = run(p, "/recurse");
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["count"], "1");
  EXPECT_EQ(o.report["deepest"], std::to_string(Vm::kMaxNestedAllocations));
  EXPECT_EQ(o.report["refused_status"], "10");  // INTERNAL_FAILURE
  EXPECT_TRUE(p.vm->alive());
}

TEST_F(HostileTest, EffectiveContextSwitchedByTheAllocatorIsRestored) {
  Plugin p = load();
  Stream s;
  Outcome o = run(p, s, "/effective");
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["has_path"], "1");
  // Inside the allocator the root context was effective: it has no request headers.
  EXPECT_EQ(o.report["nested_status"], "2");
  // Back in the stream's context for the rest of the callback.
  EXPECT_EQ(o.report["after_status"], "0");
  EXPECT_EQ(s.request_headers.get("x-after"), "1");
  EXPECT_FALSE(s.request_headers.get("x-from-root").has_value());
}

TEST_F(HostileTest, AllocatorGrowsMemory) {
  Plugin p = load();
  Outcome o = run(p, "/grow");
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["has_path"], "1");
  EXPECT_EQ(o.report["grew_pages"], "512");
  EXPECT_TRUE(p.vm->alive());
}

TEST_F(HostileTest, AllocatorGrowsMemoryPastTheLimit) {
  auto spec = hostile_spec();
  spec->limits.max_memory_bytes = 64ull * 1024 * 1024;
  Plugin p = load(spec);
  Outcome o = run(p, "/grow-past-limit");
  // An engine that caps memory during the call makes the grow fail inside the plugin
  // (the call then succeeds); one that checks after the call stops the VM there.
  if (p.vm->alive()) {
    EXPECT_EQ(o.report["status"], "0");
    EXPECT_EQ(o.report["grew_pages"], "0");
  } else {
    EXPECT_EQ(o.action, Action::Failed);
    EXPECT_NE(p.vm->failure().find("limit"), std::string::npos) << p.vm->failure();
  }
}

TEST_F(HostileTest, AllocatorAnswersBadPointers) {
  Plugin p = load();
  for (std::string path : {"/bad-pointer", "/pointer-at-end", "/zero-pointer"}) {
    Outcome o = run(p, path);
    EXPECT_EQ(o.report["status"], "6") << path;  // INVALID_MEMORY_ACCESS
    EXPECT_EQ(o.report["path_after"], path);
    EXPECT_TRUE(p.vm->alive()) << path;
  }
}

TEST_F(HostileTest, AllocatorAnswersTheOutPointersThemselves) {
  Plugin p = load();
  Stream s;
  s.request_headers.add("x-victim", "victim value");
  Outcome o = run(p, s, "/overlap");
  // The plugin's own memory: data first, then size and pointer over it.
  EXPECT_EQ(o.report["status"], "0");
  EXPECT_EQ(o.report["ptr_is_block"], "1");
  EXPECT_EQ(o.report["size"], "12");
}

// ---------------------------------------------------------------- limits

TEST_F(HostileTest, OutstandingHttpCallsAreBounded) {
  auto spec = hostile_spec();
  spec->limits.max_outstanding_calls = 10;
  Plugin p = load(spec);
  uint64_t before = counter("wasm.plugin." + p.name + ".http_calls_over_limit");
  Outcome o = run(p, "/calls");
  EXPECT_EQ(o.report["accepted"], "10");
  EXPECT_EQ(o.report["refused_status"], "10");  // INTERNAL_FAILURE
  EXPECT_EQ(counter("wasm.plugin." + p.name + ".http_calls_over_limit"), before + 30);
  EXPECT_TRUE(p.vm->alive());
}

TEST_F(HostileTest, HttpCallRequestsAreBounded) {
  auto spec = hostile_spec();
  spec->limits.max_call_response_bytes = 1024 * 1024;
  Plugin p = load(spec);
  EXPECT_EQ(run(p, "/big-request").report["status"], "2");  // BAD_ARGUMENT: 2 MiB body
  spec = hostile_spec();
  spec->limits.max_call_response_bytes = 4 * 1024 * 1024;
  Plugin q = load(spec);
  EXPECT_EQ(run(q, "/big-request").report["status"], "0");
}

TEST_F(HostileTest, SharedDataBytesAreBounded) {
  auto spec = hostile_spec();
  spec->limits.max_shared_data_bytes = 100 * 1024;
  Plugin p = load(spec);
  Outcome o = run(p, "/shared-flood");
  // Each key: "flood-N" + 1000 bytes + the host's per-key overhead.
  const int stored = std::stoi(o.report["stored"]);
  EXPECT_GT(stored, 80);
  EXPECT_LT(stored, 100);
  EXPECT_EQ(o.report["refused_status"], "8");  // CAS_MISMATCH (what the Rust SDK handles)
  EXPECT_EQ(o.report["shrink_status"], "0");
  EXPECT_LE(SharedData::instance().bytes(spec->vm_id), 100u * 1024);
  EXPECT_EQ(counter("wasm.plugin." + p.name + ".shared_data_full"), 1u);
}

TEST_F(HostileTest, SharedQueueItemsAreBounded) {
  auto spec = hostile_spec();
  spec->limits.max_shared_queue_items = 100;
  Plugin p = load(spec);
  Outcome o = run(p, "/queue-flood");
  EXPECT_EQ(o.report["queued"], "100");
  EXPECT_EQ(o.report["refused_status"], "1");  // NOT_FOUND (what the Rust SDK handles)
  EXPECT_EQ(o.report["drained"], "100");
  EXPECT_EQ(counter("wasm.plugin." + p.name + ".shared_queue_full"), 1u);
}

TEST_F(HostileTest, LongLogLinesAreCutAndLineBuffersStayBounded) {
  auto spec = hostile_spec();
  spec->limits.max_log_line_bytes = 1000;
  Plugin p = load(spec);
  Outcome o = run(p, "/big-log");
  EXPECT_EQ(o.report["log"], "0");
  EXPECT_EQ(o.report["stdout_bytes"], std::to_string(24 * 128 * 1024));
  const std::string cut =
      "wasm log " + p.name + " hostile: " + std::string(1000, 'a') + "...[truncated]";
  size_t cut_lines = 0;
  for (const auto& l : logs_->lines()) {
    EXPECT_LE(l.size(), cut.size()) << l.substr(0, 100);
    cut_lines += l == cut;
  }
  EXPECT_EQ(cut_lines, 2u);  // the proxy_log message, and the 3 MiB stdout line once
  EXPECT_EQ(logs_->count("wasm log " + p.name + " hostile: the line after"), 1u);
  EXPECT_EQ(p.vm->stdout_line.line.size(), 0u);
  EXPECT_LE(p.vm->stdout_line.line.capacity(), 4096u);
  EXPECT_EQ(counter("wasm.plugin." + p.name + ".log_lines_truncated"), 2u);
  // Also from inside the allocator.
  Outcome nested = run(p, "/log");
  EXPECT_EQ(nested.report["status"], "0");
  EXPECT_EQ(nested.report["fd_write"], "0");
  EXPECT_EQ(logs_->count("wasm log " + p.name + " hostile: after the long line"), 1u);
}

TEST_F(HostileTest, FdWriteBoundsIovecsAndBytes) {
  Plugin p = load();
  Outcome o = run(p, "/iovecs");
  EXPECT_EQ(o.report["too_many"], "28");  // EINVAL: more than 1024 iovecs
  EXPECT_EQ(o.report["many"], "0");
  EXPECT_EQ(o.report["many_written"], std::to_string(1024 * 1024));
  EXPECT_EQ(o.report["bad_iovec"], "21");  // EFAULT
  EXPECT_EQ(o.report["bad_array"], "21");
  EXPECT_TRUE(p.vm->alive());
}

// ---------------------------------------------------------------- metric names

TEST(PluginMetricNames, WeirsNamespacesAndThePrometheusPrefixAreReserved) {
  for (std::string_view name :
       {"http.ingress_http.downstream_rq_total", "cluster.mock.upstream_rq_200", "server.live",
        "wasm.plugin.x.vm_failures", "listener.0.0.0.0_80.downstream_cx_total",
        "runtime.load_success", "server", "envoy_cluster_upstream_rq_total", "envoy.x", "envoy-x",
        "cluster_manager.cds.update_success", "vhost.a.vcluster.b.upstream_rq_total"}) {
    EXPECT_TRUE(is_reserved_metric_name(name)) << name;
  }
  for (std::string_view name : {"http_requests_total", "my_plugin.requests", "clusters.seen",
                                "envoyish", "stat_filter.custom_metric.num_of_request",
                                "servers.up", "wasmcustom.x", "istio_requests_total"}) {
    EXPECT_FALSE(is_reserved_metric_name(name)) << name;
  }
}

TEST_F(HostileTest, MetricsThatAliasWeirStatsAreRefusedAndLoggedOnce) {
  store().counter("weirtest.own_stat");  // as if weir had a stat outside its namespaces
  Plugin p = load();
  Outcome o = run(p, "/metrics");
  EXPECT_EQ(o.report["counter http.ingress_http.downstream_rq_total"], "2");
  EXPECT_EQ(o.report["counter cluster.upstream.upstream_rq_200"], "2");
  EXPECT_EQ(o.report["counter server.live"], "2");
  EXPECT_EQ(o.report["counter wasm.plugin.hostile.vm_failures"], "2");
  EXPECT_EQ(o.report["counter listener.127.0.0.1_80.downstream_cx_total"], "2");
  EXPECT_EQ(o.report["counter runtime.load_success"], "2");
  EXPECT_EQ(o.report["counter envoy_cluster_upstream_rq_total"], "2");
  EXPECT_EQ(o.report["counter envoy.anything"], "2");
  EXPECT_EQ(o.report["counter "], "2");
  EXPECT_EQ(o.report["counter hostile.requests"], "0");
  EXPECT_EQ(o.report["gauge hostile.requests"], "2");  // taken by a counter
  EXPECT_EQ(o.report["gauge hostile.level"], "0");
  // Again: the same answers, no second log line.
  Outcome again = run(p, "/metrics");
  EXPECT_EQ(again.report["counter server.live"], "2");
  EXPECT_EQ(again.report["counter hostile.requests"], "0");
  EXPECT_EQ(logs_->count("proxy_define_metric('server.live') refused"), 1u);
  for (const auto& s : store().snapshot()) {
    if (s.name == "hostile.requests") {
      EXPECT_TRUE(s.plugin_defined);
      EXPECT_EQ(s.value, 2);
    }
    if (s.name.starts_with("server.") || s.name.starts_with("http.")) {
      EXPECT_FALSE(s.plugin_defined) << s.name;
    }
  }
  // A stat of weir's own outside the reserved namespaces: refused in any type.
  uint32_t id = 0;
  EXPECT_EQ(p.vm->define_metric(MetricType::Counter, "weirtest.own_stat", &id),
            WasmResult::BadArgument);
  EXPECT_EQ(p.vm->define_metric(MetricType::Gauge, "weirtest.own_stat", &id),
            WasmResult::BadArgument);
  // Each refused name counted once (9 counters, 1 gauge, then the 2 above).
  EXPECT_EQ(counter("wasm.plugin." + p.name + ".metrics_refused"), 12u);
}

TEST_F(HostileTest, AnotherPluginsMetricOfAnotherTypeIsRefused) {
  Plugin a = load();
  Plugin b = load();
  uint32_t id = 0;
  EXPECT_EQ(a.vm->define_metric(MetricType::Gauge, "shared.name.for.two.plugins", &id),
            WasmResult::Ok);
  EXPECT_EQ(b.vm->define_metric(MetricType::Gauge, "shared.name.for.two.plugins", &id),
            WasmResult::Ok);  // same name, same type: one metric, shared
  EXPECT_EQ(b.vm->define_metric(MetricType::Histogram, "shared.name.for.two.plugins", &id),
            WasmResult::BadArgument);
  EXPECT_EQ(b.vm->define_metric(MetricType::Counter, std::string(1025, 'n'), &id),
            WasmResult::BadArgument);
}

}  // namespace
}  // namespace weir::proxy_wasm
