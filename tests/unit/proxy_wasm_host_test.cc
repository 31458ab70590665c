// Tests of the Proxy-Wasm host layer (src/proxy_wasm) and the HTTP wasm filter
// (src/extensions/filters/http/wasm) with real Wasm modules: small .wat modules converted
// with wat2wasm, and testdata/proxy_wasm/test_plugin.c built with clang-14 for wasm32-wasi,
// both at test time.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>

#include "common/log_level.h"
#include "event/event_loop.h"
#include "extensions/filters/http/wasm/wasm_filter.h"
#include "plugin_test_support.h"
#include "proxy/http_filter.h"
#include "proxy_wasm/map_serialization.h"
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

// ---------------------------------------------------------------- fixtures

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string tmp_dir() {
  static std::string dir = [] {
    char t[] = "/tmp/weir_pw_test_XXXXXX";
    return std::string(mkdtemp(t));
  }();
  return dir;
}

// Converts WAT text to a binary module.
std::string wat(const std::string& text) {
  static int n = 0;
  std::string base = tmp_dir() + "/m" + std::to_string(n++);
  { std::ofstream(base + ".wat") << text; }
  std::string out = shell("wat2wasm '" + base + ".wat' -o '" + base + ".wasm'");
  EXPECT_EQ(out, "") << text;
  return read_file(base + ".wasm");
}

// testdata/proxy_wasm/test_plugin.c, built once.
const std::string& test_plugin() {
  static std::string bytes = [] {
    std::string out = tmp_dir() + "/test_plugin.wasm";
    std::string log =
        shell(std::string("clang-14 --target=wasm32-wasi -mexec-model=reactor -O2 "
                          "-Wl,--export=malloc -Wl,--strip-debug -Wl,--allow-undefined -o '") +
              out + "' '" + WEIR_TEST_DATA_DIR + "/proxy_wasm/test_plugin.c'");
    EXPECT_EQ(log, "");
    return read_file(out);
  }();
  return bytes;
}

std::shared_ptr<PluginSpec> spec(std::string config = "", std::string root_id = "my_root") {
  auto s = std::make_shared<PluginSpec>();
  s->name = "test_plugin";
  s->root_id = std::move(root_id);
  s->vm_id = "vm";
  s->plugin_configuration = std::move(config);
  s->environment = {"TEST_ENV=hello"};
  return s;
}

// A stream host double.
class FakeStream : public StreamHost {
 public:
  http::HeaderMap request_headers;
  http::HeaderMap request_trailers;
  http::HeaderMap response_headers;
  bool has_response = false;
  bool has_request_trailers = false;
  std::string body;
  bool has_body = false;
  struct LocalReply {
    uint32_t status;
    std::string body;
    http::HeaderMap headers;
    std::string details;
  };
  std::vector<LocalReply> replies;
  int continues[2] = {0, 0};
  std::string source_port_encoded;

  http::HeaderMap* header_map(MapType t) override {
    switch (t) {
      case MapType::RequestHeaders:
        return &request_headers;
      case MapType::RequestTrailers:
        return has_request_trailers ? &request_trailers : nullptr;
      case MapType::ResponseHeaders:
        return has_response ? &response_headers : nullptr;
      default:
        return nullptr;
    }
  }
  std::string* body_buffer(BufferType t) override {
    return t == BufferType::HttpRequestBody && has_body ? &body : nullptr;
  }
  void send_local_response(uint32_t status, std::string_view b, http::HeaderMap h,
                           std::string_view d, uint32_t) override {
    replies.push_back({status, std::string(b), std::move(h), std::string(d)});
  }
  WasmResult continue_stream(StreamType t) override {
    continues[static_cast<int>(t)]++;
    return WasmResult::Ok;
  }
  WasmResult close_stream(StreamType) override { return WasmResult::Ok; }
  void clear_route_cache() override {}
  bool get_stream_property(std::string_view path, std::string& out) override {
    if (path == std::string_view("source\0port", 11)) {
      out.clear();
      append_le64(out, 4242);
      return true;
    }
    return false;
  }
};

struct Loaded {
  std::shared_ptr<WorkerRuntime> rt;
  std::shared_ptr<WorkerPlugin> plugin;
  std::shared_ptr<Vm> vm;
  RootContext* root = nullptr;
};

Result<std::shared_ptr<const PluginModule>> module_of(const std::string& bytes) {
  auto compiled = compile_shared(test_engine(), bytes);
  if (!compiled.ok()) return Error{compiled.error()};
  return PluginModule::create(compiled.value(), "test_plugin");
}

stats::StatsStore& store() {
  static stats::StatsStore s;
  return s;
}

Result<Loaded> load(const std::string& bytes, std::shared_ptr<PluginSpec> s = spec()) {
  auto m = module_of(bytes);
  if (!m.ok()) return Error{m.error()};
  auto rt = WorkerRuntime::for_current_thread(test_engine(), store());
  if (!rt.ok()) return Error{rt.error()};
  // A fresh VM each time: use a unique vm_id.
  static int n = 0;
  s->vm_id = "vm" + std::to_string(n++);
  auto p = WorkerPlugin::create(s, m.value(), rt.value());
  if (!p.ok()) return Error{p.error()};
  Loaded l;
  l.rt = rt.value();
  l.plugin = p.value();
  EXPECT_EQ(l.plugin->acquire(l.vm, l.root), WorkerPlugin::Decision::Use);
  return l;
}

class ProxyWasmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<LogLines>();
    spdlog::default_logger()->sinks().push_back(sink_);
    weir::set_log_level(spdlog::level::debug);
  }
  void TearDown() override {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    weir::set_log_level(spdlog::level::info);
  }
  std::shared_ptr<LogLines> sink_;
};

std::string get(const http::HeaderMap& m, std::string_view k) {
  auto v = m.get(k);
  return v ? std::string(*v) : std::string("<absent>");
}

// ---------------------------------------------------------------- serialization

TEST(ProxyWasmMapTest, RoundTrip) {
  http::HeaderMap m;
  m.add(":path", "/a");
  m.add("x-empty", "");
  m.add("k", "v\x01z");
  std::string s = serialize_map(m);
  EXPECT_EQ(s.size(), serialized_map_size(m));
  auto p = parse_map(s);
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].first, ":path");
  EXPECT_EQ((*p)[0].second, "/a");
  EXPECT_EQ((*p)[1].second, "");
  EXPECT_EQ((*p)[2].second, "v\x01z");
}

TEST(ProxyWasmMapTest, LenientAndMalformed) {
  EXPECT_TRUE(parse_map("").has_value());
  EXPECT_EQ(parse_map("").value().size(), 0u);
  EXPECT_EQ(parse_map(std::string_view("\0", 1)).value().size(), 0u);
  EXPECT_FALSE(parse_map("ab").has_value());
  EXPECT_FALSE(parse_map(std::string_view("\xff\xff\xff\xff", 4)).has_value());  // count too big
  EXPECT_FALSE(
      parse_map(std::string_view("\1\0\0\0\xff\0\0\0\1\0\0\0", 12)).has_value());  // key too long
}

// ---------------------------------------------------------------- ABI detection

TEST_F(ProxyWasmTest, AbiDetection) {
  auto none = module_of(wat(
      "(module (func (export \"proxy_on_vm_start\") (param i32 i32) (result i32) i32.const 1))"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("proxy_abi_version"), std::string::npos) << none.error();
  auto unknown = module_of(wat("(module (func (export \"proxy_abi_version_9_9_9\")))"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("proxy_abi_version_9_9_9"), std::string::npos) << unknown.error();
  for (auto [name, v] :
       {std::pair{"0_1_0", AbiVersion::V0_1_0}, std::pair{"0_2_0", AbiVersion::V0_2_0},
        std::pair{"0_2_1", AbiVersion::V0_2_1}, std::pair{"0_2_100", AbiVersion::V0_2_100}}) {
    auto m =
        module_of(wat(std::string("(module (func (export \"proxy_abi_version_") + name + "\")))"));
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ(m.value()->abi(), v);
  }
}

// Higress's 0.2.100 is 0.2.1 plus its own functions: its Redis calls are bound for it and
// for no other version; the Higress functions weir lacks are UNIMPLEMENTED stubs.
TEST_F(ProxyWasmTest, HigressAbiBindsRedisCallsOnlyFor0_2_100) {
  auto imports_for = [&](const std::string& abi) {
    auto m = module_of(wat(R"((module
  (import "env" "proxy_redis_init" (func (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_redis_call" (func (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_upstream_hosts" (func (param i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func (param i32) (result i32)))
  (func (export "proxy_abi_version_)" +
                           abi + R"("))))"));
    EXPECT_TRUE(m.ok()) << m.error();
    std::string stubs;
    if (!m.ok()) return stubs;
    for (const auto& st : m.value()->stubbed_imports()) stubs += st + ";";
    return stubs;
  };
  std::string higress = imports_for("0_2_100");
  EXPECT_EQ(higress.find("proxy_redis_init"), std::string::npos) << higress;
  EXPECT_EQ(higress.find("proxy_redis_call"), std::string::npos) << higress;
  EXPECT_EQ(higress.find("proxy_continue_stream"), std::string::npos) << higress;  // 0.2.1's
  EXPECT_NE(higress.find("env.proxy_get_upstream_hosts (is not implemented by weir yet)"),
            std::string::npos)
      << higress;
  std::string plain = imports_for("0_2_1");
  EXPECT_NE(plain.find("env.proxy_redis_init (is not part of ABI 0.2.1)"), std::string::npos)
      << plain;
  EXPECT_NE(plain.find("env.proxy_redis_call (is not part of ABI 0.2.1)"), std::string::npos)
      << plain;
}

// proxy_redis_init / proxy_redis_call refuse bad arguments with BAD_ARGUMENT (2): a bad
// "?db=", a call to a cluster never initialized, an empty query. Without a worker (this
// test) a good call is accepted (0) and never answered, as http calls are.
TEST_F(ProxyWasmTest, HigressRedisCallsRefuseBadArguments) {
  auto l = load(wat(R"wat((module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_redis_init" (func $init (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_redis_call" (func $call (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "redis?db=xredis?db=3other*1\0d\0a$4\0d\0aPING\0d\0a")
  (func (export "proxy_abi_version_0_2_100"))
  (func $put (param $i i32) (param $v i32)
    (i32.store8 (i32.add (i32.const 200) (local.get $i)) (i32.add (i32.const 48) (local.get $v))))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (call $put (i32.const 0) (call $init (i32.const 0) (i32.const 10) (i32.const 0) (i32.const 0)
                                         (i32.const 0) (i32.const 0) (i32.const 100)))
    (call $put (i32.const 1) (call $call (i32.const 10) (i32.const 5) (i32.const 25)
                                         (i32.const 14) (i32.const 300)))
    (call $put (i32.const 2) (call $init (i32.const 10) (i32.const 10) (i32.const 0) (i32.const 0)
                                         (i32.const 0) (i32.const 0) (i32.const 100)))
    (call $put (i32.const 3) (call $call (i32.const 20) (i32.const 5) (i32.const 25)
                                         (i32.const 14) (i32.const 300)))
    (call $put (i32.const 4) (call $call (i32.const 10) (i32.const 5) (i32.const 25)
                                         (i32.const 0) (i32.const 300)))
    (call $put (i32.const 5) (call $call (i32.const 10) (i32.const 5) (i32.const 25)
                                         (i32.const 14) (i32.const 300)))
    (drop (call $log (i32.const 2) (i32.const 200) (i32.const 6)))
    (i32.const 1))))wat"));
  ASSERT_TRUE(l.ok()) << l.error();
  // init "redis?db=x": 2; call before init: 2; init "redis?db=3": 0; call "other": 2;
  // empty query: 2; call "redis": 0 (the cluster is named without "?db=3").
  std::string logged;
  for (const auto& line : sink_->lines()) logged += line + "\n";
  EXPECT_TRUE(sink_->contains("wasm log test_plugin my_root: 220220")) << logged;
}

// Below the configured level proxy_log reads nothing: even a message past the end of the
// plugin's memory is not looked at. At a logged level the same message is refused as an
// invalid memory access (6).
TEST_F(ProxyWasmTest, LogsBelowTheLevelAreNotRead) {
  weir::set_log_level(spdlog::level::info);
  auto l = load(wat(R"wat((module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "statuses: ")
  (func (export "proxy_abi_version_0_2_1"))
  (func $put (param $i i32) (param $v i32)
    (i32.store8 (i32.add (i32.const 10) (local.get $i)) (i32.add (i32.const 48) (local.get $v))))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (call $put (i32.const 0) (call $log (i32.const 1) (i32.const 65000) (i32.const 1000)))
    (call $put (i32.const 1) (call $log (i32.const 3) (i32.const 65000) (i32.const 1000)))
    (drop (call $log (i32.const 2) (i32.const 0) (i32.const 12)))
    (i32.const 1))))wat"));
  ASSERT_TRUE(l.ok()) << l.error();
  std::string logged;
  for (const auto& line : sink_->lines()) logged += line + "\n";
  EXPECT_TRUE(sink_->contains("wasm log test_plugin my_root: statuses: 06")) << logged;
}

// A module that logs each start-up step ("I", "M", "S", "C", "V", "G").
std::string startup_module(bool with_initialize, const std::string& abi = "0_2_1") {
  std::string s = R"((module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "IMSCVG")
  (func $l (param i32) (drop (call $log (i32.const 2) (local.get 0) (i32.const 1))))
  (func (export "proxy_abi_version_)" +
                  abi + R"("))
  (func (export "main") (param i32 i32) (result i32) (call $l (i32.const 1)) (i32.const 0))
  (func (export "_start") (call $l (i32.const 2)))
  (func (export "proxy_on_context_create") (param i32 i32) (call $l (i32.const 3)))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (call $l (i32.const 4)) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (call $l (i32.const 5)) (i32.const 1))
)";
  if (with_initialize) s += R"(  (func (export "_initialize") (call $l (i32.const 0))))";
  s += ")";
  return wat(s);
}

std::string logged_steps(LogLines& sink) {
  std::string steps;
  for (const auto& l : sink.lines()) {
    if (l.starts_with("wasm log test_plugin my_root: ") && l.size() == 31) steps += l.back();
  }
  return steps;
}

TEST_F(ProxyWasmTest, StartupWithInitializeCallsMainNotStart) {
  auto l = load(startup_module(true));
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_EQ(logged_steps(*sink_), "IMCVG");
}

TEST_F(ProxyWasmTest, StartupWithoutInitializeCallsStart) {
  auto l = load(startup_module(false, "0_1_0"));
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_EQ(logged_steps(*sink_), "SCVG");
}

// The host calls callbacks with integer arguments only: a callback of another type would
// be called with the wrong values, so the plugin does not load (as in proxy-wasm-cpp-host).
TEST_F(ProxyWasmTest, CallbackWithANonIntegerTypeFailsTheLoad) {
  auto l = load(wat(R"((module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param f32 i32 i32) (result i32) (i32.const 0))
))"));
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.error().find("proxy_on_request_headers has type (f32, i32, i32) -> (i32)"),
            std::string::npos)
      << l.error();
}

TEST_F(ProxyWasmTest, ConfigureFalseFailsTheLoad) {
  auto l = load(test_plugin(), spec("reject"));
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.error().find("proxy_on_configure"), std::string::npos) << l.error();
}

TEST_F(ProxyWasmTest, StartSectionMayCallHostFunctions) {
  auto l = load(wat(R"((module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "from start")
  (func (export "proxy_abi_version_0_2_0"))
  (func $s (drop (call $log (i32.const 2) (i32.const 0) (i32.const 10))))
  (start $s)))"));
  ASSERT_TRUE(l.ok()) << l.error();
  // AssemblyScript plugins log from their start function: memory must be reachable there.
  EXPECT_TRUE(sink_->contains("wasm log test_plugin my_root: from start"));
}

// ---------------------------------------------------------------- the C test plugin

TEST_F(ProxyWasmTest, PluginStartsAndReadsRootIdConfigAndEnvironment) {
  auto l = load(test_plugin(), spec("cfg1"));
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_TRUE(sink_->contains("plugin_root_id status 0 value 'my_root'"));
  EXPECT_TRUE(
      sink_->contains("wasm log test_plugin my_root: configured with 'cfg1', TEST_ENV=hello"));
  EXPECT_EQ(l.value().root->tick_period_ms(), 500u);
  EXPECT_EQ(l.value().vm->abi(), AbiVersion::V0_2_1);
  // Unknown imports are stubbed and reported.
  std::string stubs;
  for (const auto& s : l.value().vm->plugin_module().stubbed_imports()) stubs += s + ";";
  EXPECT_NE(stubs.find("env.proxy_frobnicate"), std::string::npos) << stubs;
  EXPECT_NE(stubs.find("wasi_snapshot_preview1.sock_frobnicate"), std::string::npos) << stubs;
  EXPECT_EQ(stubs.find("env.proxy_http_call"), std::string::npos) << stubs;  // implemented
}

TEST_F(ProxyWasmTest, HeaderMapOperations) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/headers");
  fs.request_headers.add("x-replace", "old");
  fs.request_headers.add("x-remove", "gone");
  fs.request_headers.add("x-get", "value-1");
  {
    StreamContext ctx(l.value().vm, l.value().root, &fs);
    ASSERT_TRUE(ctx.create());
    EXPECT_EQ(ctx.on_request_headers(4, true), Action::Continue);
  }
  const auto& h = fs.request_headers;
  EXPECT_EQ(get(h, "x-added"), "1");
  EXPECT_EQ(get(h, "x-replace"), "new");
  EXPECT_EQ(get(h, "x-remove"), "<absent>");
  EXPECT_EQ(get(h, "x-got"), "value-1");
  EXPECT_EQ(get(h, "x-missing"), "1");       // NOT_FOUND (0.2.x)
  EXPECT_EQ(get(h, "x-resp-map"), "2");      // absent map: BAD_ARGUMENT
  EXPECT_EQ(get(h, "x-resp-pairs"), "0/0");  // absent map: OK, empty
  EXPECT_EQ(get(h, "x-bad-map"), "2");
  EXPECT_EQ(get(h, "x-bad-key"), "6");  // INVALID_MEMORY_ACCESS
  EXPECT_EQ(get(h, "x-bad-out"), "6");
  EXPECT_EQ(get(h, "x-bad-log"), "6");
  EXPECT_EQ(get(h, "x-zero-log"), "0");
  EXPECT_EQ(get(h, "x-unknown-proxy"), "12");  // UNIMPLEMENTED stub
  EXPECT_EQ(get(h, "x-unknown-wasi"), "52");   // ENOSYS stub
  EXPECT_EQ(get(h, "x-http-call"), "2");       // no :method/:path/:authority: BAD_ARGUMENT
  EXPECT_TRUE(l.value().vm->alive());
}

TEST_F(ProxyWasmTest, SetHeaderMapPairs) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.has_request_trailers = true;
  fs.request_trailers.add("t", "1");
  fs.request_headers.add(":path", "/setpairs");
  fs.request_headers.add("a", "b");
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  EXPECT_EQ(ctx.on_request_headers(2, true), Action::Continue);
  EXPECT_EQ(get(fs.request_headers, "x-set-same"), "0");
  EXPECT_EQ(get(fs.request_headers, ":path"), "/setpairs");
  EXPECT_EQ(get(fs.request_headers, "a"), "b");
  EXPECT_EQ(get(fs.request_headers, "x-set-empty0"), "0");
  EXPECT_EQ(get(fs.request_headers, "x-set-empty1"), "0");
  EXPECT_EQ(get(fs.request_headers, "x-set-bad"), "2");
  EXPECT_TRUE(fs.request_trailers.empty());
}

TEST_F(ProxyWasmTest, Metrics) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/metrics");
  uint64_t before = store().counter("test.counter").value();
  int64_t gauge_before = store().gauge("test.gauge").value();
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  ctx.on_request_headers(1, true);
  const auto& h = fs.request_headers;
  EXPECT_EQ(get(h, "x-m-inc"), "0");
  EXPECT_EQ(get(h, "x-m-inc0"), "2");
  EXPECT_EQ(get(h, "x-m-incneg"), "2");
  EXPECT_EQ(get(h, "x-m-rec"), "0");
  EXPECT_EQ(get(h, "x-m-gauge"), "0");
  EXPECT_EQ(get(h, "x-m-hist"), "0");
  EXPECT_EQ(get(h, "x-m-hist-inc"), "2");
  EXPECT_EQ(get(h, "x-m-hist-get"), "2");
  EXPECT_EQ(get(h, "x-m-unknown"), "1");
  EXPECT_EQ(get(h, "x-m-badtype"), "2");
  EXPECT_EQ(store().counter("test.counter").value(), before + 11);
  EXPECT_EQ(store().gauge("test.gauge").value(), gauge_before - 5);
  EXPECT_GE(store().histogram("test.hist").count(), 1u);
}

TEST_F(ProxyWasmTest, PropertiesAndStdout) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/props");
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  ctx.on_request_headers(1, true);
  EXPECT_EQ(get(fs.request_headers, "x-root-id"), "my_root");
  EXPECT_EQ(get(fs.request_headers, "x-prop-path"), "/props");
  EXPECT_EQ(get(fs.request_headers, "x-src-port"), "4242");
  EXPECT_EQ(get(fs.request_headers, "x-prop-unknown"), "1");
  EXPECT_EQ(get(fs.request_headers, "x-my-prop"), "v1");
}

TEST_F(ProxyWasmTest, LifecycleCallbacksOncePerStream) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  auto& s = store();
  uint64_t c0 = s.counter("test.lc.create").value(), d0 = s.counter("test.lc.done").value(),
           g0 = s.counter("test.lc.log").value(), x0 = s.counter("test.lc.delete").value();
  for (int i = 0; i < 3; ++i) {
    FakeStream fs;
    fs.request_headers.add(":path", "/");
    StreamContext ctx(l.value().vm, l.value().root, &fs);
    ASSERT_TRUE(ctx.create());
    ctx.on_request_headers(1, true);
    ctx.finish();
    ctx.finish();  // no second time; nor from the destructor
  }
  EXPECT_EQ(s.counter("test.lc.create").value(), c0 + 3);
  EXPECT_EQ(s.counter("test.lc.done").value(), d0 + 3);
  EXPECT_EQ(s.counter("test.lc.log").value(), g0 + 3);  // request headers readable in on_log
  EXPECT_EQ(s.counter("test.lc.delete").value(), x0 + 3);
}

TEST_F(ProxyWasmTest, BodyBufferingAndSetBuffer) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/");
  fs.has_body = true;
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  fs.body = "abc";
  EXPECT_EQ(ctx.on_request_body(3, false), Action::Buffer);
  fs.body = "abcdef";
  EXPECT_EQ(ctx.on_request_body(6, true), Action::Continue);
  EXPECT_EQ(fs.body, "<abcdef>");
  EXPECT_TRUE(sink_->contains("body 6/6"));
}

TEST_F(ProxyWasmTest, LocalResponseIgnoresReturnValue) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/local");
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  EXPECT_EQ(ctx.on_request_headers(1, true), Action::LocalReply);
  ASSERT_EQ(fs.replies.size(), 1u);
  EXPECT_EQ(fs.replies[0].status, 403u);
  EXPECT_EQ(fs.replies[0].body, "nope");
  EXPECT_EQ(fs.replies[0].details, "denied");
  EXPECT_EQ(get(fs.replies[0].headers, "x-reason"), "test");
}

TEST_F(ProxyWasmTest, PauseAndContinue) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/pause-continue");
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  EXPECT_EQ(ctx.on_request_headers(1, true), Action::Pause);
  EXPECT_EQ(fs.continues[0], 1);
}

void expect_dies(const std::string& path, std::string_view why, LogLines& sink) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", path);
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  EXPECT_EQ(ctx.on_request_headers(1, true), Action::Failed);
  EXPECT_FALSE(l.value().vm->alive());
  EXPECT_NE(l.value().vm->failure().find(why), std::string::npos) << l.value().vm->failure();
  EXPECT_TRUE(sink.contains("wasm plugin 'test_plugin'"));
  // Later streams: the plugin's policy (FAIL_CLOSED by default).
  std::shared_ptr<Vm> vm;
  RootContext* root = nullptr;
  EXPECT_EQ(l.value().plugin->acquire(vm, root), WorkerPlugin::Decision::FailClosed);
}

TEST_F(ProxyWasmTest, TrapKillsTheVm) { expect_dies("/trap", "proxy_on_request_headers", *sink_); }
TEST_F(ProxyWasmTest, ProcExitKillsTheVm) { expect_dies("/exit", "proc_exit(3)", *sink_); }
// The cap holds inside the call: memory.grow fails in the plugin, which carries on.
TEST_F(ProxyWasmTest, MemoryGrowPastTheCapFailsInsideThePlugin) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/grow");
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  EXPECT_EQ(ctx.on_request_headers(1, true), Action::Continue);
  EXPECT_EQ(get(fs.request_headers, "x-grow"), "-1");
  EXPECT_TRUE(l.value().vm->alive());
  EXPECT_LE(l.value().vm->instance()->memory().size(), spec()->limits.max_memory_bytes);
}

TEST_F(ProxyWasmTest, DeadlineStopsAnInfiniteLoop) {
  auto s = spec();
  s->limits.call_deadline = std::chrono::milliseconds(200);
  auto l = load(test_plugin(), s);
  ASSERT_TRUE(l.ok()) << l.error();
  FakeStream fs;
  fs.request_headers.add(":path", "/loop");
  StreamContext ctx(l.value().vm, l.value().root, &fs);
  ASSERT_TRUE(ctx.create());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ctx.on_request_headers(1, true), Action::Failed);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_GE(ms, 200);  // never before the deadline
  EXPECT_LE(ms, 400);  // stopped within twice the deadline
  EXPECT_NE(l.value().vm->failure().find("stopped after exceeding the call deadline of 200 ms"),
            std::string::npos)
      << l.value().vm->failure();
}

TEST_F(ProxyWasmTest, FailReloadCreatesANewInstance) {
  auto s = spec();
  s->failure_policy = FailurePolicy::FailReload;
  auto l = load(test_plugin(), s);
  ASSERT_TRUE(l.ok()) << l.error();
  {
    FakeStream fs;
    fs.request_headers.add(":path", "/trap");
    StreamContext ctx(l.value().vm, l.value().root, &fs);
    ASSERT_TRUE(ctx.create());
    EXPECT_EQ(ctx.on_request_headers(1, true), Action::Failed);
  }
  std::shared_ptr<Vm> vm;
  RootContext* root = nullptr;
  ASSERT_EQ(l.value().plugin->acquire(vm, root), WorkerPlugin::Decision::Use);
  EXPECT_NE(vm.get(), l.value().vm.get());
  EXPECT_TRUE(vm->alive());
  FakeStream fs;
  fs.request_headers.add(":path", "/headers");
  StreamContext ctx(vm, root, &fs);
  ASSERT_TRUE(ctx.create());
  EXPECT_EQ(ctx.on_request_headers(1, true), Action::Continue);
  EXPECT_EQ(get(fs.request_headers, "x-added"), "1");
}

// ---------------------------------------------------------------- the HTTP filter

class FakeCallbacks : public proxy::HttpFilterCallbacks {
 public:
  http::HeaderMap req, resp;
  bool has_resp = false;
  proxy::StreamInfo info;
  std::vector<std::pair<uint32_t, std::string>> replies;
  int continued_request = 0;
  void continue_request() override { continued_request++; }
  void continue_response() override {}
  void send_local_reply(uint32_t status, std::string_view, const http::HeaderMap&,
                        std::string_view details) override {
    replies.emplace_back(status, std::string(details));
  }
  http::HeaderMap* request_headers() override { return &req; }
  http::HeaderMap* response_headers() override { return has_resp ? &resp : nullptr; }
  http::HeaderMap* request_trailers() override { return nullptr; }
  http::HeaderMap* response_trailers() override { return nullptr; }
  proxy::StreamInfo& stream_info() override { return info; }
  const config::Route* route() override { return nullptr; }
  const config::ClusterConfig* cluster_config(std::string_view) override { return nullptr; }
  void clear_route_cache() override {}
  void reset_stream() override { reset = true; }
  bool reset = false;
};

std::unique_ptr<proxy::HttpFilterFactory> filter_factory(
    config::FailurePolicy policy, std::shared_ptr<proxy::HttpFilterDefinition>* def) {
  config::WasmPluginConfig c;
  c.name = "filter_plugin";
  c.root_id = "r";
  static int n = 0;
  c.vm_id = "filter_vm" + std::to_string(n++);
  c.code_inline = test_plugin();
  c.failure_policy = policy;
  auto d = extensions::wasm::create_wasm_filter_definition(c, test_engine(), store());
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error());
  if (!d.ok()) return nullptr;
  *def = d.value();
  static event::EventLoop loop;
  proxy::WorkerContext w{loop, store(), 0};
  auto f = d.value()->create_worker_factory(w);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error());
  return f.ok() ? std::move(f.value()) : nullptr;
}

TEST_F(ProxyWasmTest, FilterFailClosedAnswers503ThenKeepsFailing) {
  std::shared_ptr<proxy::HttpFilterDefinition> def;
  auto factory = filter_factory(config::FailurePolicy::FailClosed, &def);
  ASSERT_TRUE(factory);
  {
    FakeCallbacks cb;
    cb.req.add(":path", "/trap");
    auto f = factory->create_filter(cb);
    EXPECT_EQ(f->on_request_headers(cb.req, true), proxy::FilterStatus::StopIteration);
    ASSERT_EQ(cb.replies.size(), 1u);
    EXPECT_EQ(cb.replies[0], std::make_pair(503u, std::string("wasm_fail_stream")));
    f->on_stream_complete();
  }
  {
    FakeCallbacks cb;
    cb.req.add(":path", "/headers");
    auto f = factory->create_filter(cb);
    EXPECT_EQ(f->on_request_headers(cb.req, true), proxy::FilterStatus::StopIteration);
    ASSERT_EQ(cb.replies.size(), 1u);
    EXPECT_EQ(cb.replies[0].first, 503u);
    // The 503 itself goes through the response path.
    EXPECT_EQ(f->on_response_headers(cb.resp, true), proxy::FilterStatus::Continue);
    f->on_stream_complete();
  }
}

TEST_F(ProxyWasmTest, FilterFailOpenSkipsThePlugin) {
  std::shared_ptr<proxy::HttpFilterDefinition> def;
  auto factory = filter_factory(config::FailurePolicy::FailOpen, &def);
  ASSERT_TRUE(factory);
  {
    FakeCallbacks cb;
    cb.req.add(":path", "/trap");
    auto f = factory->create_filter(cb);
    EXPECT_EQ(f->on_request_headers(cb.req, true), proxy::FilterStatus::Continue);
    EXPECT_TRUE(cb.replies.empty());
  }
  {
    FakeCallbacks cb;
    cb.req.add(":path", "/headers");
    auto f = factory->create_filter(cb);
    EXPECT_EQ(f->on_request_headers(cb.req, true), proxy::FilterStatus::Continue);
    EXPECT_EQ(get(cb.req, "x-added"), "<absent>");
  }
}

TEST_F(ProxyWasmTest, FilterRunsThePluginAndPausesUntilContinued) {
  std::shared_ptr<proxy::HttpFilterDefinition> def;
  auto factory = filter_factory(config::FailurePolicy::FailClosed, &def);
  ASSERT_TRUE(factory);
  FakeCallbacks cb;
  cb.req.add(":path", "/headers");
  auto f = factory->create_filter(cb);
  EXPECT_EQ(f->on_request_headers(cb.req, true), proxy::FilterStatus::Continue);
  EXPECT_EQ(get(cb.req, "x-added"), "1");
  cb.has_resp = true;
  cb.resp.add(":status", "200");
  EXPECT_EQ(f->on_response_headers(cb.resp, true), proxy::FilterStatus::Continue);
  EXPECT_EQ(get(cb.resp, "x-plugin"), "seen");
  f->on_stream_complete();

  FakeCallbacks cb2;
  cb2.req.add(":path", "/pause-continue");  // continues inside the callback: not stopped
  auto f2 = factory->create_filter(cb2);
  EXPECT_EQ(f2->on_request_headers(cb2.req, true), proxy::FilterStatus::Continue);
  EXPECT_EQ(cb2.continued_request, 0);
}

TEST_F(ProxyWasmTest, FilterDefinitionErrorsNameTheStep) {
  config::WasmPluginConfig c;
  c.name = "bad";
  c.code_inline = test_plugin();
  c.plugin_configuration = "reject";
  auto d = extensions::wasm::create_wasm_filter_definition(c, test_engine(), store());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().find("proxy_on_configure returned false"), std::string::npos) << d.error();
  c.code_inline = "not wasm";
  d = extensions::wasm::create_wasm_filter_definition(c, test_engine(), store());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().find("compiling"), std::string::npos) << d.error();
  c.code_inline.clear();
  c.code_filename = "/nonexistent/plugin.wasm";
  d = extensions::wasm::create_wasm_filter_definition(c, test_engine(), store());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().find("/nonexistent/plugin.wasm"), std::string::npos) << d.error();
}

// ---------------------------------------------------------------- per-call cost

TEST_F(ProxyWasmTest, PerStreamCostIsSmall) {
  auto l = load(test_plugin());
  ASSERT_TRUE(l.ok()) << l.error();
  weir::set_log_level(spdlog::level::info);
  FakeStream fs;
  fs.request_headers.add(":path", "/");
  fs.request_headers.add("host", "x");
  constexpr int kStreams = 20000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kStreams; ++i) {
    StreamContext ctx(l.value().vm, l.value().root, &fs);
    ctx.create();
    ctx.on_request_headers(2, true);
    ctx.finish();
  }
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  // create + headers (with one get_header_map_value) + done + log (one more) + delete.
  std::printf("[ perf ] %.2f us per stream (5 callbacks, ~4 host calls)\n", ns / 1000.0 / kStreams);
  EXPECT_TRUE(l.value().vm->alive());
}

}  // namespace
}  // namespace weir::proxy_wasm
