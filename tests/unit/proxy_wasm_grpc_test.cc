// gRPC calls from plugins: the wire helpers (http/grpc.h), GrpcService decoding, and the
// host functions with a real Wasm plugin (testdata/proxy_wasm/grpc_plugin.c, built with
// clang-14 at test time) against a fake transport (ClusterCalls) the test drives.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include "http/grpc.h"
#include "plugin_test_support.h"
#include "proxy_wasm/grpc_service.h"
#include "proxy_wasm/stream_host.h"
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

namespace grpc = http::grpc;

// ---------------------------------------------------------------- wire helpers

TEST(GrpcWireTest, FrameRoundTripAndSplitDelivery) {
  std::string wire = grpc::frame("hello") + grpc::frame("") + grpc::frame(std::string(300, 'z'));
  EXPECT_EQ(wire.substr(0, 5), std::string("\0\0\0\0\5", 5));
  grpc::FrameDecoder d(1000);
  std::vector<std::string> got;
  std::string m;
  // One byte at a time: messages come out whole, in order.
  for (char c : wire) {
    d.feed(std::string_view(&c, 1));
    while (d.next(m) == grpc::FrameDecoder::Result::Message) got.push_back(m);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "hello");
  EXPECT_EQ(got[1], "");
  EXPECT_EQ(got[2], std::string(300, 'z'));
  EXPECT_TRUE(d.empty());
}

TEST(GrpcWireTest, FrameBoundAndCompression) {
  grpc::FrameDecoder d(10);
  d.feed(grpc::frame(std::string(11, 'a')).substr(0, 5));  // the prefix alone is enough
  std::string m;
  EXPECT_EQ(d.next(m), grpc::FrameDecoder::Result::TooLarge);
  grpc::FrameDecoder c(10);
  c.feed(std::string("\1\0\0\0\1x", 6));
  EXPECT_EQ(c.next(m), grpc::FrameDecoder::Result::Compressed);
}

TEST(GrpcWireTest, TimeoutHeader) {
  using std::chrono::milliseconds;
  EXPECT_EQ(grpc::timeout_header(milliseconds(1500)), "1500m");
  EXPECT_EQ(grpc::timeout_header(milliseconds(99999999)), "99999999m");
  EXPECT_EQ(grpc::timeout_header(milliseconds(100000000)), "100000S");
  EXPECT_EQ(grpc::timeout_header(milliseconds(100000001)), "100001S");  // rounded up
}

TEST(GrpcWireTest, StatusFromTrailersHeadersAndHttp) {
  http::HeaderMap headers;
  headers.add(":status", "200");
  http::HeaderMap trailers;
  trailers.add("grpc-status", "7");
  trailers.add("grpc-message", "no%20way%zz");
  auto s = grpc::status_of(headers, &trailers);
  EXPECT_EQ(s.code, 7u);
  EXPECT_EQ(s.message, "no way%zz");  // bad escapes kept
  // Trailers-only: the status is in the headers.
  headers.add("grpc-status", "5");
  EXPECT_EQ(grpc::status_of(headers, nullptr).code, 5u);
  // No grpc-status at all: UNKNOWN; an HTTP error: mapped.
  http::HeaderMap bare;
  bare.add(":status", "200");
  EXPECT_EQ(grpc::status_of(bare, nullptr).code, 2u);
  http::HeaderMap unavailable;
  unavailable.add(":status", "503");
  EXPECT_EQ(grpc::status_of(unavailable, nullptr).code, 14u);
  http::HeaderMap not_found;
  not_found.add(":status", "404");
  EXPECT_EQ(grpc::status_of(not_found, nullptr).code, 12u);
  EXPECT_FALSE(grpc::parse_status("1x").has_value());
  EXPECT_FALSE(grpc::parse_status("").has_value());
}

// ---------------------------------------------------------------- GrpcService

std::string field(uint8_t tag, std::string_view bytes) {
  std::string out(1, static_cast<char>(tag));
  out.push_back(static_cast<char>(bytes.size()));
  out.append(bytes);
  return out;
}

TEST(GrpcServiceTest, DecodesEnvoyGrpcTimeoutAndMetadata) {
  std::string envoy_grpc = field(0x0a, "cluster_a") + field(0x12, "auth.a");
  std::string duration = std::string("\x08\x01\x10\xc0\x84\x3d", 6);  // 1 s + 1,000,000 ns
  std::string header = field(0x0a, "k") + field(0x12, "v");
  // An unknown field (15, a varint) is skipped.
  std::string bytes = field(0x0a, envoy_grpc) + field(0x1a, duration) + field(0x2a, header) +
                      std::string("\x78\x05", 2);
  auto t = decode_grpc_service(bytes);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->cluster, "cluster_a");
  EXPECT_EQ(t->authority, "auth.a");
  EXPECT_EQ(t->timeout.count(), 1001);
  ASSERT_EQ(t->initial_metadata.size(), 1u);
  EXPECT_EQ(t->initial_metadata[0].first, "k");
  EXPECT_EQ(t->initial_metadata[0].second, "v");
}

TEST(GrpcServiceTest, PlainNamesAndBrokenMessagesAreNotServices) {
  EXPECT_FALSE(decode_grpc_service("grpc_service").has_value());
  EXPECT_FALSE(decode_grpc_service("auth").has_value());
  EXPECT_FALSE(decode_grpc_service("").has_value());
  // google_grpc only (field 2): nothing weir can call.
  EXPECT_FALSE(decode_grpc_service(field(0x12, field(0x0a, "x"))).has_value());
  // A length past the end, a truncated varint.
  EXPECT_FALSE(decode_grpc_service(std::string("\x0a\x30\x0a\x01x", 5)).has_value());
  EXPECT_FALSE(decode_grpc_service(std::string("\x0a\x80", 2)).has_value());
  // envoy_grpc without a cluster name.
  EXPECT_FALSE(decode_grpc_service(field(0x0a, field(0x12, "auth"))).has_value());
}

// ---------------------------------------------------------------- host functions

// The plugins' own "grpc ..." log lines, as they logged them.
class LogSink : public LogLines {
 public:
  std::vector<std::string> grpc_lines() {
    std::vector<std::string> out;
    for (const auto& l : lines()) {
      auto at = l.find("grpc ");
      if (at != std::string::npos && l.find("wasm log") != std::string::npos)
        out.push_back(l.substr(at));
    }
    return out;
  }
};

// The transport double: records what the host asks for; the test plays the other side.
class FakeCalls : public ClusterCalls {
 public:
  struct Stream {
    GrpcRequest request;
    GrpcEvents events;
    std::vector<std::string> sent;
    bool end_stream = false;
  };
  std::map<uint64_t, Stream> streams;
  std::vector<uint64_t> cancelled;
  uint64_t next = 100;

  uint64_t dispatch_http(ClusterRequest, Completion) override { return 0; }
  uint64_t dispatch_redis(RedisRequest, Completion) override { return 0; }
  void cancel(uint64_t id) override {
    cancelled.push_back(id);
    streams.erase(id);
  }
  bool has_cluster(std::string_view c) const override { return c == "grpc_cluster"; }
  uint64_t start_grpc(GrpcRequest request, GrpcEvents events) override {
    if (!has_cluster(request.cluster)) return 0;
    const uint64_t id = next++;
    streams[id] = Stream{std::move(request), std::move(events), {}, false};
    return id;
  }
  bool send_grpc(uint64_t id, std::string_view message, bool end_stream) override {
    auto it = streams.find(id);
    if (it == streams.end() || it->second.end_stream) return false;
    it->second.sent.emplace_back(message);
    it->second.end_stream = end_stream;
    return true;
  }
  void half_close_grpc(uint64_t id) override {
    if (auto it = streams.find(id); it != streams.end()) it->second.end_stream = true;
  }

  // The other side's events (copies of the callbacks: an event may cancel its stream).
  void initial(uint64_t id, std::initializer_list<std::pair<const char*, const char*>> md) {
    http::HeaderMap m;
    for (auto& [k, v] : md) m.add(k, v);
    auto fn = streams.at(id).events.initial_metadata;
    fn(m);
  }
  void message(uint64_t id, std::string msg) {
    auto fn = streams.at(id).events.message;
    fn(msg);
  }
  void trailing(uint64_t id, std::initializer_list<std::pair<const char*, const char*>> md) {
    http::HeaderMap m;
    for (auto& [k, v] : md) m.add(k, v);
    auto fn = streams.at(id).events.trailing_metadata;
    fn(m);
  }
  void close(uint64_t id, uint32_t status, std::string message = "") {
    auto fn = streams.at(id).events.close;
    streams.erase(id);
    fn(status, message);
  }
};

class NoScheduler : public WorkerScheduler {
 public:
  TimerId add_timer(std::chrono::milliseconds, std::function<void()>) override { return 1; }
  void cancel_timer(TimerId) override {}
  void post(std::function<void()>) override {}
};

const std::string& grpc_plugin() {
  static std::string bytes = [] {
    char t[] = "/tmp/weir_grpc_test_XXXXXX";
    std::string out = std::string(mkdtemp(t)) + "/grpc_plugin.wasm";
    std::string log = shell(std::string("clang-14 --target=wasm32-wasi -mexec-model=reactor -O2 "
                                        "-Wl,--export=malloc -Wl,--strip-debug -o '") +
                            out + "' '" + WEIR_TEST_DATA_DIR + "/proxy_wasm/grpc_plugin.c'");
    EXPECT_EQ(log, "");
    std::ifstream in(out, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  return bytes;
}

class Headers : public StreamHost {
 public:
  http::HeaderMap request;
  http::HeaderMap* header_map(MapType t) override {
    return t == MapType::RequestHeaders ? &request : nullptr;
  }
  std::string* body_buffer(BufferType) override { return nullptr; }
  void send_local_response(uint32_t, std::string_view, http::HeaderMap, std::string_view,
                           uint32_t) override {}
  WasmResult continue_stream(StreamType) override { return WasmResult::Ok; }
  WasmResult close_stream(StreamType) override { return WasmResult::Ok; }
  void clear_route_cache() override {}
  bool get_stream_property(std::string_view, std::string&) override { return false; }
};

stats::StatsStore& store() {
  static stats::StatsStore s;
  return s;
}

class GrpcHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<LogSink>();
    spdlog::default_logger()->sinks().push_back(sink_);
    calls_ = std::make_shared<FakeCalls>();
  }
  void TearDown() override {
    plugin_.reset();
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  void load(uint32_t max_calls = 1024, uint64_t max_bytes = 4096) {
    auto compiled = compile_shared(test_engine(), grpc_plugin());
    ASSERT_TRUE(compiled.ok()) << compiled.error();
    auto module = PluginModule::create(compiled.value(), "grpc_plugin");
    ASSERT_TRUE(module.ok()) << module.error();
    EXPECT_TRUE(module.value()->stubbed_imports().empty());
    auto rt = WorkerRuntime::for_current_thread(test_engine(), store());
    ASSERT_TRUE(rt.ok()) << rt.error();
    rt.value()->attach_worker(std::make_shared<NoScheduler>(), calls_);
    auto s = std::make_shared<PluginSpec>();
    s->name = "grpc_plugin";
    static int n = 0;
    s->vm_id = "grpc_vm" + std::to_string(n++);
    s->limits.max_outstanding_calls = max_calls;
    s->limits.max_call_response_bytes = max_bytes;
    auto p = WorkerPlugin::create(s, module.value(), rt.value());
    ASSERT_TRUE(p.ok()) << p.error();
    plugin_ = p.value();
    ASSERT_EQ(plugin_->acquire(vm_, root_), WorkerPlugin::Decision::Use);
  }
  // Runs one operation in a request-headers callback; the request headers it left.
  http::HeaderMap op(std::initializer_list<std::pair<const char*, std::string>> headers) {
    Headers h;
    for (auto& [k, v] : headers) h.request.add(k, v);
    StreamContext ctx(vm_, root_, &h);
    EXPECT_TRUE(ctx.create());
    ctx.on_request_headers(static_cast<uint32_t>(h.request.size()), true);
    return std::move(h.request);
  }
  static std::string get(const http::HeaderMap& m, std::string_view k) {
    auto v = m.get(k);
    return v ? std::string(*v) : "<absent>";
  }
  uint64_t only_stream() {
    EXPECT_EQ(calls_->streams.size(), 1u);
    return calls_->streams.empty() ? 0 : calls_->streams.begin()->first;
  }

  std::shared_ptr<LogSink> sink_;
  std::shared_ptr<FakeCalls> calls_;
  std::shared_ptr<WorkerPlugin> plugin_;
  std::shared_ptr<Vm> vm_;
  RootContext* root_ = nullptr;
};

TEST_F(GrpcHostTest, UnaryCallDeliversTheMessageWithItsMetadata) {
  load();
  auto h = op(
      {{"x-op", "call"}, {"x-service", "grpc_cluster"}, {"x-msg", "bob"}, {"x-timeout", "1500"}});
  EXPECT_EQ(get(h, "x-status"), "0");
  const std::string token = get(h, "x-token");
  EXPECT_EQ(std::stoul(token) % 2, 1u);  // calls get odd tokens
  const uint64_t id = only_stream();
  const auto& s = calls_->streams.at(id);
  EXPECT_EQ(s.request.cluster, "grpc_cluster");
  EXPECT_EQ(s.request.authority, "grpc_cluster");
  EXPECT_EQ(s.request.service, "weir.test.Echo");
  EXPECT_EQ(s.request.method, "Check");
  EXPECT_EQ(get(s.request.initial_metadata, "x-md"), "1");
  EXPECT_EQ(s.request.timeout.count(), 1500);
  EXPECT_EQ(s.request.max_message_bytes, 4096u);
  ASSERT_EQ(s.sent.size(), 1u);
  EXPECT_EQ(s.sent[0], "bob");
  EXPECT_TRUE(s.end_stream);

  calls_->initial(id, {{"x-check-id", "bob"}});
  calls_->message(id, "allow:bob");
  calls_->trailing(id, {{"x-check-trailer", "done"}});
  EXPECT_TRUE(sink_->grpc_lines().empty());  // nothing before the status
  calls_->close(id, 0);
  auto lines = sink_->grpc_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "grpc receive root=" + std::to_string(root_->id()) + " token=" + token +
                          " size=9 msg=allow:bob md=bob tr=done");
}

TEST_F(GrpcHostTest, UnaryCallFailureGivesCloseWithStatusAndMessage) {
  load();
  auto h = op({{"x-op", "call"}, {"x-service", "grpc_cluster"}, {"x-msg", "x"}});
  const std::string token = get(h, "x-token");
  calls_->close(only_stream(), 14, "no healthy upstream");
  auto lines = sink_->grpc_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("grpc close root=" + std::to_string(root_->id()) + " token=" + token +
                          " status=14 get_status=0/14/no healthy upstream"),
            std::string::npos)
      << lines[0];
  // OK with no message is no answer: INTERNAL.
  h = op({{"x-op", "call"}, {"x-service", "grpc_cluster"}, {"x-msg", "x"}});
  calls_->close(only_stream(), 0);
  lines = sink_->grpc_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("status=13"), std::string::npos) << lines[1];
  // The token is gone: cancel and close say NOT_FOUND.
  EXPECT_EQ(get(op({{"x-op", "cancel"}, {"x-token", token}}), "x-status"), "1");
  EXPECT_EQ(get(op({{"x-op", "close"}, {"x-token", token}}), "x-status"), "1");
}

TEST_F(GrpcHostTest, ServiceIsAGrpcServiceMessageOrAClusterName) {
  load();
  // Unknown plain name: PARSE_FAILURE (Envoy's answer; the Rust SDK expects it).
  EXPECT_EQ(get(op({{"x-op", "call"}, {"x-service", "nope"}}), "x-status"), "4");
  EXPECT_EQ(get(op({{"x-op", "stream"}, {"x-service", "nope"}}), "x-status"), "4");
  EXPECT_TRUE(calls_->streams.empty());
  // A serialized GrpcService: its cluster, authority, timeout and metadata.
  auto h = op({{"x-op", "call"}, {"x-service", "proto"}, {"x-msg", "m"}});
  EXPECT_EQ(get(h, "x-status"), "0");
  const auto& r = calls_->streams.at(only_stream()).request;
  EXPECT_EQ(r.cluster, "grpc_cluster");
  EXPECT_EQ(r.authority, "auth.example");
  EXPECT_EQ(r.timeout.count(), 2000);  // the call gave none: the GrpcService's
  EXPECT_EQ(get(r.initial_metadata, "x-init"), "v");
  EXPECT_EQ(get(r.initial_metadata, "x-md"), "1");
}

TEST_F(GrpcHostTest, StreamDeliversEveryEventAndKeepsItsTokenUntilClosed) {
  load();
  auto h = op({{"x-op", "stream"}, {"x-service", "grpc_cluster"}});
  EXPECT_EQ(get(h, "x-status"), "0");
  const std::string token = get(h, "x-token");
  EXPECT_EQ(std::stoul(token) % 2, 0u);  // streams get even tokens
  const uint64_t id = only_stream();
  EXPECT_EQ(calls_->streams.at(id).request.timeout.count(), 0);
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", token}, {"x-msg", "one"}}), "x-status"), "0");
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", token}, {"x-msg", "two"}}), "x-status"), "0");
  EXPECT_EQ(calls_->streams.at(id).sent, (std::vector<std::string>{"one", "two"}));
  calls_->initial(id, {{"x-chat", "open"}});
  calls_->message(id, "echo:one");
  calls_->message(id, "echo:two");
  // The plugin half-closes; answers keep coming.
  EXPECT_EQ(get(op({{"x-op", "close"}, {"x-token", token}}), "x-status"), "0");
  EXPECT_TRUE(calls_->streams.at(id).end_stream);
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", token}, {"x-msg", "late"}}), "x-status"), "2");
  calls_->trailing(id, {{"x-chat-count", "2"}});
  calls_->close(id, 0);
  const std::string r = "root=" + std::to_string(root_->id()) + " token=" + token;
  auto lines = sink_->grpc_lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "grpc initial " + r + " n=1 x-chat=open");
  EXPECT_EQ(lines[1], "grpc receive " + r + " size=8 msg=echo:one md= tr=");
  EXPECT_EQ(lines[2], "grpc receive " + r + " size=8 msg=echo:two md= tr=");
  EXPECT_EQ(lines[3], "grpc trailing " + r + " n=1 x-chat-count=2");
  EXPECT_EQ(lines[4], "grpc close " + r + " status=0 get_status=0/0/");
  // Both sides closed: the token is gone.
  EXPECT_EQ(get(op({{"x-op", "close"}, {"x-token", token}}), "x-status"), "1");
}

TEST_F(GrpcHostTest, StreamClosedByTheServerFirstWaitsForThePluginsClose) {
  load();
  const std::string token = get(op({{"x-op", "stream"}, {"x-service", "grpc_cluster"}}), "x-token");
  calls_->close(only_stream(), 14, "gone");
  // As Envoy: send is OK (nothing to send on), close is OK once, then NOT_FOUND.
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", token}, {"x-msg", "m"}}), "x-status"), "0");
  EXPECT_EQ(get(op({{"x-op", "close"}, {"x-token", token}}), "x-status"), "0");
  EXPECT_EQ(get(op({{"x-op", "close"}, {"x-token", token}}), "x-status"), "1");
}

TEST_F(GrpcHostTest, CancelStopsEveryCallback) {
  load();
  const std::string call = get(op({{"x-op", "call"}, {"x-service", "grpc_cluster"}}), "x-token");
  const uint64_t id = only_stream();
  auto events = calls_->streams.at(id).events;
  EXPECT_EQ(get(op({{"x-op", "cancel"}, {"x-token", call}}), "x-status"), "0");
  EXPECT_EQ(calls_->cancelled, std::vector<uint64_t>{id});
  // A transport that still delivered something would reach nobody.
  std::string m = "late";
  events.message(m);
  events.close(0, "");
  EXPECT_TRUE(sink_->grpc_lines().empty());
  EXPECT_EQ(get(op({{"x-op", "cancel"}, {"x-token", call}}), "x-status"), "1");
  // Send: a call's token is BAD_ARGUMENT, an unknown stream's NOT_FOUND.
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", call}}), "x-status"), "2");
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", "1000"}}), "x-status"), "1");
}

TEST_F(GrpcHostTest, LimitsOnOutstandingCallsAndSizes) {
  load(/*max_calls=*/2, /*max_bytes=*/100);
  EXPECT_EQ(get(op({{"x-op", "call"}, {"x-service", "grpc_cluster"}}), "x-status"), "0");
  const std::string s = get(op({{"x-op", "stream"}, {"x-service", "grpc_cluster"}}), "x-token");
  // Past max_outstanding_calls: INTERNAL_FAILURE (what the Rust SDK returns as an error).
  EXPECT_EQ(get(op({{"x-op", "call"}, {"x-service", "grpc_cluster"}}), "x-status"), "10");
  EXPECT_EQ(get(op({{"x-op", "stream"}, {"x-service", "grpc_cluster"}}), "x-status"), "10");
  EXPECT_GE(store().counter("wasm.plugin.grpc_plugin.http_calls_over_limit").value(), 2u);
  // A message past max_call_response_bytes: send says BAD_ARGUMENT.
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", s}, {"x-msg-size", "101"}}), "x-status"), "2");
  EXPECT_EQ(get(op({{"x-op", "send"}, {"x-token", s}, {"x-msg-size", "100"}}), "x-status"), "0");
  EXPECT_EQ(get(op({{"x-op", "cancel"}, {"x-token", s}}), "x-status"), "0");
  // A call whose message is too large: INTERNAL_FAILURE, nothing sent.
  EXPECT_EQ(
      get(op({{"x-op", "call"}, {"x-service", "grpc_cluster"}, {"x-msg-size", "200"}}), "x-status"),
      "10");
  EXPECT_EQ(calls_->streams.size(), 1u);
}

TEST_F(GrpcHostTest, MapsBufferAndStatusExistOnlyInTheirCallbacks) {
  load();
  auto h = op({{"x-op", "maps"}});
  EXPECT_EQ(get(h, "x-md-initial"), "2");  // BAD_ARGUMENT: no such map now
  EXPECT_EQ(get(h, "x-md-trailing"), "2");
  EXPECT_EQ(get(h, "x-message"), "1");  // NOT_FOUND
  EXPECT_EQ(get(h, "x-status"), "0");
  EXPECT_EQ(get(h, "x-code"), "0");
}

TEST_F(GrpcHostTest, TrapInACallbackKillsTheVmAndEndsItsStreams) {
  load();
  op({{"x-op", "stream"}, {"x-service", "grpc_cluster"}});
  op({{"x-op", "stream"}, {"x-service", "grpc_cluster"}});
  ASSERT_EQ(calls_->streams.size(), 2u);
  const uint64_t first = calls_->streams.begin()->first;
  const uint64_t second = std::next(calls_->streams.begin())->first;
  calls_->message(first, "trap");
  EXPECT_FALSE(vm_->alive());
  EXPECT_TRUE(sink_->contains("VM failed"));
  // Both streams are reset (the one whose callback trapped too).
  EXPECT_EQ(calls_->cancelled.size(), 2u);
  EXPECT_TRUE(calls_->streams.empty());
  (void)second;
}

}  // namespace
}  // namespace weir::proxy_wasm
