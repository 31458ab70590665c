// The host functions: ONE table (name -> implementation, per ABI version) for the
// Proxy-Wasm ABI (module "env") and WASI ("wasi_snapshot_preview1" / "wasi_unstable"),
// and the binding of a module's imports against it (PluginModule::create).
//
// Every implementation receives the Vm (the instance's host_data) and the arguments as
// the module declared them; the current context is vm.effective_context(). Every
// pointer/length is bounds-checked against the current memory (64-bit arithmetic).
//
// Results go out through the plugin's allocator, which is guest code that may call any
// host function (see Vm::OutBuffer): a function that returns data first serializes it
// into a Vm::OutBuffer, then calls copy_out(), and uses nothing it looked up before
// (a map, a context, a view into guest or host memory) after that.
#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <chrono>
#include <cstring>

#include "common/log_level.h"
#include "proxy_wasm/host_call.h"
#include "proxy_wasm/map_serialization.h"
#include "proxy_wasm/plugin_report.h"
#include "proxy_wasm/properties.h"
#include "proxy_wasm/vm.h"
#include "stats/stats_store.h"

namespace weir::proxy_wasm {

namespace {

using wasm::HostCall;
using wasm::HostResult;
using wasm::Value;

using host::adapt;
using host::kBadArg;
using host::kIma;
using host::kNotFound;
using host::kOk;
using host::st;
using host::u32;

ContextBase* ctx_of(Vm& vm) { return vm.effective_context(); }

// ---------------------------------------------------------------- logging, time, config

int32_t proxy_log(Vm& vm, const Value* a) {
  uint32_t level = u32(a[0]);
  if (level > 5) return kBadArg;
  // Below the configured level the message is not even looked at (the AssemblyScript
  // runtime logs each callback at debug level): the call is all it costs.
  if (!Vm::logs_at(static_cast<LogLevel>(level))) return kOk;
  auto msg = vm.slice(u32(a[1]), u32(a[2]));
  if (!msg) return kIma;
  vm.plugin_log(static_cast<LogLevel>(level), *msg);
  return kOk;
}

int32_t proxy_get_log_level(Vm& vm, const Value* a) {
  uint32_t l = 5;
  switch (log_level()) {
    case spdlog::level::trace:
      l = 0;
      break;
    case spdlog::level::debug:
      l = 1;
      break;
    case spdlog::level::info:
      l = 2;
      break;
    case spdlog::level::warn:
      l = 3;
      break;
    case spdlog::level::err:
      l = 4;
      break;
    default:
      l = 5;
      break;
  }
  return vm.write_u32(u32(a[0]), l) ? kOk : kIma;
}

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

int32_t proxy_get_current_time_nanoseconds(Vm& vm, const Value* a) {
  return vm.write_u64(u32(a[0]), now_ns()) ? kOk : kIma;
}

int32_t proxy_set_tick_period_milliseconds(Vm& vm, const Value* a) {
  ContextBase* c = ctx_of(vm);
  if (!c) return kBadArg;
  c->root()->set_tick_period_ms(u32(a[0]));
  return kOk;
}

int32_t proxy_get_configuration(Vm& vm, const Value* a) {
  const std::string* conf = vm.current_configuration;
  ContextBase* c = ctx_of(vm);
  if (!conf && c) conf = &c->plugin().plugin_configuration;
  Vm::OutBuffer out(vm);
  if (conf) out.str().assign(*conf);
  return st(vm.copy_out(out, u32(a[0]), u32(a[1])));
}

// ---------------------------------------------------------------- buffers

struct BufferRef {
  WasmResult status = WasmResult::Ok;
  std::string* mut = nullptr;
  std::string_view view;
};

BufferRef get_buffer(Vm& vm, uint32_t type) {
  BufferRef b;
  if (type > static_cast<uint32_t>(BufferType::Max)) {
    b.status = WasmResult::BadArgument;
    return b;
  }
  ContextBase* c = ctx_of(vm);
  switch (static_cast<BufferType>(type)) {
    case BufferType::HttpRequestBody:
    case BufferType::HttpResponseBody:
    case BufferType::DownstreamData:
    case BufferType::UpstreamData: {
      StreamHost* h = c ? c->stream_host() : nullptr;
      std::string* s = h ? h->body_buffer(static_cast<BufferType>(type)) : nullptr;
      if (!s) {
        b.status = WasmResult::NotFound;
        return b;
      }
      b.mut = s;
      b.view = *s;
      return b;
    }
    case BufferType::HttpCallResponseBody: {
      ClusterResponse* r = vm.http_call_response();
      if (!r) break;
      b.mut = &r->body;
      b.view = r->body;
      return b;
    }
    case BufferType::GrpcReceiveBuffer: {
      std::string* m = vm.grpc_message();
      if (!m) break;
      b.mut = m;
      b.view = *m;
      return b;
    }
    case BufferType::RedisCallResponse: {
      std::string* r = vm.redis_call_response();
      if (!r) break;
      b.mut = r;
      b.view = *r;
      return b;
    }
    case BufferType::VmConfiguration:
      if (!c) break;
      b.view = c->plugin().vm_configuration;
      return b;
    case BufferType::PluginConfiguration:
      if (!c) break;
      b.view = c->plugin().plugin_configuration;
      return b;
    default:
      break;
  }
  b.status = WasmResult::NotFound;
  return b;
}

int32_t proxy_get_buffer_bytes(Vm& vm, const Value* a) {
  BufferRef b = get_buffer(vm, u32(a[0]));
  if (b.status != WasmResult::Ok) return st(b.status);
  uint64_t start = u32(a[1]);
  uint64_t max = u32(a[2]);  // 0xFFFFFFFF: all of it
  if (start > b.view.size()) return kBadArg;
  uint64_t len = std::min<uint64_t>(max, b.view.size() - start);
  // Like Envoy, nothing is written for an empty answer: AssemblyScript's SDK passes a
  // size where an out-pointer belongs, and a write there would clobber its memory.
  if (len == 0) return kOk;
  Vm::OutBuffer out(vm);
  out.str().assign(b.view.substr(start, len));
  return st(vm.copy_out(out, u32(a[3]), u32(a[4])));
}

int32_t proxy_get_buffer_status(Vm& vm, const Value* a) {
  BufferRef b = get_buffer(vm, u32(a[0]));
  if (b.status != WasmResult::Ok) return st(b.status);
  if (!vm.write_u32(u32(a[1]), static_cast<uint32_t>(b.view.size()))) return kIma;
  if (!vm.write_u32(u32(a[2]), 0)) return kIma;
  return kOk;
}

int32_t proxy_set_buffer_bytes(Vm& vm, const Value* a) {
  BufferRef b = get_buffer(vm, u32(a[0]));
  if (b.status != WasmResult::Ok) return st(b.status);
  if (!b.mut) return kBadArg;  // read-only (configuration)
  auto data = vm.slice(u32(a[3]), u32(a[4]));
  if (!data) return kIma;
  uint64_t start = u32(a[1]);
  uint64_t length = u32(a[2]);
  std::string& buf = *b.mut;
  if (start == 0) {
    // Envoy: drop the first `length` bytes and put `data` in front (length 0 prepends,
    // length >= size replaces everything).
    buf.replace(0, std::min<uint64_t>(length, buf.size()), data->data(), data->size());
  } else if (start >= buf.size()) {
    // At or past the end appends (the Go SDK appends with start 0x7FFFFFFF), as in Envoy.
    buf.append(data->data(), data->size());
  } else {
    return kBadArg;
  }
  return kOk;
}

// ---------------------------------------------------------------- header maps

// The map of `type` for the effective context. nullptr with Ok: the map does not exist
// now; a non-Ok status: the type is unknown.
http::HeaderMap* get_map(Vm& vm, uint32_t type, WasmResult* status) {
  *status = WasmResult::Ok;
  if (type > static_cast<uint32_t>(MapType::Max)) {
    *status = WasmResult::BadArgument;
    return nullptr;
  }
  if (type == static_cast<uint32_t>(MapType::HttpCallResponseHeaders) ||
      type == static_cast<uint32_t>(MapType::HttpCallResponseTrailers)) {
    // Only while proxy_on_http_call_response runs.
    ClusterResponse* r = vm.http_call_response();
    if (!r) return nullptr;
    return type == static_cast<uint32_t>(MapType::HttpCallResponseHeaders) ? &r->headers
                                                                           : &r->trailers;
  }
  if (type == static_cast<uint32_t>(MapType::GrpcReceiveInitialMetadata) ||
      type == static_cast<uint32_t>(MapType::GrpcReceiveTrailingMetadata)) {
    // Only while a gRPC callback that carries them runs.
    return vm.grpc_metadata(type == static_cast<uint32_t>(MapType::GrpcReceiveInitialMetadata));
  }
  ContextBase* c = ctx_of(vm);
  StreamHost* h = c ? c->stream_host() : nullptr;
  return h ? h->header_map(static_cast<MapType>(type)) : nullptr;
}

// As Envoy: a change to the request headers clears the cached route, so the request is
// routed as the plugin left it (e.g. a new :authority picks another virtual host).
void request_headers_changed(Vm& vm, uint32_t type) {
  if (type != static_cast<uint32_t>(MapType::RequestHeaders)) return;
  ContextBase* c = ctx_of(vm);
  if (StreamHost* h = c ? c->stream_host() : nullptr) h->clear_route_cache();
}

bool in_log_phase(Vm& vm) {
  ContextBase* c = ctx_of(vm);
  StreamContext* s = c ? c->as_stream() : nullptr;
  return s && s->in_log_phase();
}

int32_t proxy_get_header_map_value(Vm& vm, const Value* a) {
  WasmResult status;
  http::HeaderMap* map = get_map(vm, u32(a[0]), &status);
  if (status != WasmResult::Ok) return st(status);
  auto key = vm.slice(u32(a[1]), u32(a[2]));
  if (!key) return kIma;
  const bool v010 = vm.abi() == AbiVersion::V0_1_0;
  Vm::OutBuffer out(vm);
  if (!map) {
    if (in_log_phase(vm)) return v010 ? st(vm.copy_out(out, u32(a[3]), u32(a[4]))) : kNotFound;
    return kBadArg;
  }
  auto v = map->get(*key);
  if (!v) return v010 ? st(vm.copy_out(out, u32(a[3]), u32(a[4]))) : kNotFound;
  out.str().assign(*v);  // the allocator may remove or replace this very header
  return st(vm.copy_out(out, u32(a[3]), u32(a[4])));
}

int32_t proxy_get_header_map_pairs(Vm& vm, const Value* a) {
  WasmResult status;
  http::HeaderMap* map = get_map(vm, u32(a[0]), &status);
  if (status != WasmResult::Ok) return st(status);
  // The map as it is now: the allocator may add to it, remove from it, or clear it.
  Vm::OutBuffer out(vm);
  if (map && !map->empty()) {
    out.str().resize(serialized_map_size(*map));
    serialize_map(*map, reinterpret_cast<uint8_t*>(out.str().data()));
  }
  return st(vm.copy_out(out, u32(a[1]), u32(a[2])));
}

int32_t proxy_set_header_map_pairs(Vm& vm, const Value* a) {
  WasmResult status;
  http::HeaderMap* map = get_map(vm, u32(a[0]), &status);
  if (status != WasmResult::Ok) return st(status);
  auto data = vm.slice(u32(a[1]), u32(a[2]));
  if (!data) return kIma;
  if (!map) return kBadArg;
  auto pairs = parse_map(*data);
  if (!pairs) return kBadArg;
  map->clear();
  for (const auto& [k, v] : *pairs) map->add(k, v);
  request_headers_changed(vm, u32(a[0]));
  return kOk;
}

int32_t proxy_get_header_map_size(Vm& vm, const Value* a) {
  WasmResult status;
  http::HeaderMap* map = get_map(vm, u32(a[0]), &status);
  if (status != WasmResult::Ok) return st(status);
  if (!map) return kBadArg;
  return vm.write_u32(u32(a[1]), static_cast<uint32_t>(serialized_map_size(*map))) ? kOk : kIma;
}

template <int Op>  // 0 add, 1 replace
int32_t add_or_replace(Vm& vm, const Value* a) {
  WasmResult status;
  http::HeaderMap* map = get_map(vm, u32(a[0]), &status);
  if (status != WasmResult::Ok) return st(status);
  auto key = vm.slice(u32(a[1]), u32(a[2]));
  auto value = vm.slice(u32(a[3]), u32(a[4]));
  if (!key || !value) return kIma;
  if (!map) return kBadArg;
  if (Op == 0) {
    map->add(*key, *value);
  } else {
    map->set(*key, *value);
  }
  request_headers_changed(vm, u32(a[0]));
  return kOk;
}

int32_t proxy_remove_header_map_value(Vm& vm, const Value* a) {
  WasmResult status;
  http::HeaderMap* map = get_map(vm, u32(a[0]), &status);
  if (status != WasmResult::Ok) return st(status);
  auto key = vm.slice(u32(a[1]), u32(a[2]));
  if (!key) return kIma;
  if (!map) return kBadArg;
  map->remove(*key);
  request_headers_changed(vm, u32(a[0]));
  return kOk;
}

// ---------------------------------------------------------------- properties

int32_t proxy_get_property(Vm& vm, const Value* a) {
  auto path = vm.slice(u32(a[0]), u32(a[1]));
  if (!path) return kIma;
  ContextBase* c = ctx_of(vm);
  if (!c) return kNotFound;
  Vm::OutBuffer out(vm);
  if (!resolve_property(*c, *path, out.str())) return kNotFound;
  return st(vm.copy_out(out, u32(a[2]), u32(a[3])));
}

int32_t proxy_set_property(Vm& vm, const Value* a) {
  auto path = vm.slice(u32(a[0]), u32(a[1]));
  auto value = vm.slice(u32(a[2]), u32(a[3]));
  if (!path || !value) return kIma;
  ContextBase* c = ctx_of(vm);
  if (!c) return kNotFound;
  return c->set_property(*path, *value) ? kOk : kBadArg;
}

// ---------------------------------------------------------------- stream control

StreamContext* stream_of(Vm& vm) {
  ContextBase* c = ctx_of(vm);
  return c ? c->as_stream() : nullptr;
}

int32_t proxy_send_local_response(Vm& vm, const Value* a) {
  auto details = vm.slice(u32(a[1]), u32(a[2]));
  auto body = vm.slice(u32(a[3]), u32(a[4]));
  auto headers = vm.slice(u32(a[5]), u32(a[6]));
  if (!details || !body || !headers) return kIma;
  StreamContext* s = stream_of(vm);
  if (!s) return kNotFound;
  auto pairs = parse_map(*headers);
  if (!pairs) return kBadArg;
  http::HeaderMap extra;
  for (const auto& [k, v] : *pairs) extra.add(k, v);
  s->mark_local_reply();
  s->stream_host()->send_local_response(u32(a[0]), *body, std::move(extra), *details, u32(a[7]));
  return kOk;
}

int32_t proxy_continue_stream(Vm& vm, const Value* a) {
  StreamContext* s = stream_of(vm);
  if (!s) return kNotFound;
  uint32_t t = u32(a[0]);
  if (t > 3) return kBadArg;
  // Downstream / Upstream (network streams): UNIMPLEMENTED from an HTTP stream's host.
  return st(s->stream_host()->continue_stream(static_cast<StreamType>(t)));
}

int32_t proxy_close_stream(Vm& vm, const Value* a) {
  StreamContext* s = stream_of(vm);
  if (!s) return kNotFound;
  uint32_t t = u32(a[0]);
  if (t > 3) return kBadArg;
  return st(s->stream_host()->close_stream(static_cast<StreamType>(t)));
}

template <StreamType T>
int32_t proxy_continue_010(Vm& vm, const Value*) {
  if (StreamContext* s = stream_of(vm)) s->stream_host()->continue_stream(T);
  return kOk;
}

int32_t proxy_clear_route_cache(Vm& vm, const Value*) {
  if (StreamContext* s = stream_of(vm)) s->stream_host()->clear_route_cache();
  return kOk;
}

int32_t proxy_set_effective_context(Vm& vm, const Value* a) {
  ContextBase* c = vm.find_context(u32(a[0]));
  if (!c) return kBadArg;
  vm.set_effective_context(c);
  return kOk;
}

int32_t proxy_done(Vm& vm, const Value*) {
  ContextBase* c = ctx_of(vm);
  if (!c || !c->is_root() || !c->root()->done_pending) return kNotFound;
  c->root()->done_pending = false;
  return kOk;
}

int32_t proxy_get_status(Vm& vm, const Value* a) {
  // The status of the gRPC call or stream whose proxy_on_grpc_close runs; elsewhere code 0
  // and no message (HTTP call answers carry theirs in :status).
  const Vm::GrpcStatus* status = vm.grpc_status();
  if (!vm.write_u32(u32(a[0]), status ? status->code : 0)) return kIma;
  Vm::OutBuffer message(vm);
  if (status) message.str().assign(status->message);
  return st(vm.copy_out(message, u32(a[1]), u32(a[2])));
}

// ---------------------------------------------------------------- metrics

int32_t proxy_define_metric(Vm& vm, const Value* a) {
  uint32_t type = u32(a[0]);
  if (type > 2) return kBadArg;
  auto name = vm.slice(u32(a[1]), u32(a[2]));
  if (!name) return kIma;
  uint32_t id = 0;
  WasmResult r = vm.define_metric(static_cast<MetricType>(type), *name, &id);
  if (r != WasmResult::Ok) return st(r);
  return vm.write_u32(u32(a[3]), id) ? kOk : kIma;
}

int32_t proxy_increment_metric(Vm& vm, const Value* a) {
  MetricSlot* m = vm.metric(u32(a[0]));
  if (!m) return kNotFound;
  int64_t delta = a[1].i64;
  switch (m->type) {
    case MetricType::Counter:
      if (delta <= 0) return kBadArg;
      static_cast<stats::Counter*>(m->stat)->inc(static_cast<uint64_t>(delta));
      return kOk;
    case MetricType::Gauge:
      static_cast<stats::Gauge*>(m->stat)->add(delta);
      return kOk;
    case MetricType::Histogram:
      return kBadArg;
  }
  return kBadArg;
}

int32_t proxy_record_metric(Vm& vm, const Value* a) {
  MetricSlot* m = vm.metric(u32(a[0]));
  if (!m) return kNotFound;
  uint64_t value = static_cast<uint64_t>(a[1].i64);
  switch (m->type) {
    case MetricType::Counter:
      static_cast<stats::Counter*>(m->stat)->inc(value);
      return kOk;
    case MetricType::Gauge:
      static_cast<stats::Gauge*>(m->stat)->set(static_cast<int64_t>(value));
      return kOk;
    case MetricType::Histogram:
      static_cast<stats::Histogram*>(m->stat)->record(value);
      return kOk;
  }
  return kBadArg;
}

int32_t proxy_get_metric(Vm& vm, const Value* a) {
  MetricSlot* m = vm.metric(u32(a[0]));
  if (!m) return kNotFound;
  uint64_t v = 0;
  switch (m->type) {
    case MetricType::Counter:
      v = static_cast<stats::Counter*>(m->stat)->value();
      break;
    case MetricType::Gauge:
      v = static_cast<uint64_t>(static_cast<stats::Gauge*>(m->stat)->value());
      break;
    case MetricType::Histogram:
      return kBadArg;
  }
  return vm.write_u64(u32(a[1]), v) ? kOk : kIma;
}

// ---------------------------------------------------------------- WASI

namespace errno_ = wasi_errno;

// A host function cannot be interrupted by the call deadline, so one fd_write does
// bounded work: at most kMaxIovecs iovecs (POSIX IOV_MAX; more is EINVAL) and
// kMaxWriteBytes bytes. Past that it is a short write (the count says what was taken),
// which WASI libcs and the Go and Rust runtimes retry.
constexpr uint32_t kMaxIovecs = 1024;
constexpr uint64_t kMaxWriteBytes = 1024 * 1024;

int32_t wasi_fd_write(Vm& vm, const Value* a) {
  uint32_t fd = u32(a[0]);
  if (fd != 1 && fd != 2) return errno_::kBadf;
  uint32_t iovs = u32(a[1]);
  uint32_t n = u32(a[2]);
  if (n > kMaxIovecs) return errno_::kInval;
  if (!vm.in_bounds(iovs, 8ull * n) || !vm.in_bounds(u32(a[3]), 4)) return errno_::kFault;
  Vm::LineBuffer& line = fd == 1 ? vm.stdout_line : vm.stderr_line;
  const LogLevel level = fd == 1 ? LogLevel::Info : LogLevel::Error;
  uint64_t written = 0;
  for (uint32_t i = 0; i < n && written < kMaxWriteBytes; ++i) {
    auto iov = vm.slice(static_cast<uint32_t>(iovs + 8ull * i), 8);  // in bounds: checked
    if (!iov) return errno_::kFault;
    uint32_t ptr, len;
    std::memcpy(&ptr, iov->data(), 4);
    std::memcpy(&len, iov->data() + 4, 4);
    auto data = vm.slice(ptr, len);
    if (!data) return errno_::kFault;
    std::string_view taken = data->substr(0, kMaxWriteBytes - written);
    vm.write_output(line, level, taken);
    written += taken.size();
  }
  return vm.write_u32(u32(a[3]), static_cast<uint32_t>(written)) ? errno_::kSuccess
                                                                 : errno_::kFault;
}

int32_t wasi_fd_read(Vm& vm, const Value* a) {
  if (u32(a[0]) != 0) return errno_::kBadf;
  return vm.write_u32(u32(a[3]), 0) ? errno_::kSuccess : errno_::kFault;  // stdin: EOF
}

int32_t wasi_fd_seek(Vm&, const Value* a) {
  return u32(a[0]) <= 2 ? errno_::kSpipe : errno_::kBadf;
}

int32_t wasi_fd_close(Vm&, const Value* a) {
  return u32(a[0]) <= 2 ? errno_::kSuccess : errno_::kBadf;
}

int32_t wasi_fd_fdstat_get(Vm& vm, const Value* a) {
  if (u32(a[0]) > 2) return errno_::kBadf;
  uint8_t stat[24] = {};
  stat[0] = 2;  // CHARACTER_DEVICE
  uint64_t rights = u32(a[0]) == 0 ? 0x2 /*fd_read*/ : 0x40 /*fd_write*/;
  std::memcpy(stat + 8, &rights, 8);
  return vm.write_bytes(u32(a[1]), stat, sizeof stat) ? errno_::kSuccess : errno_::kFault;
}

int32_t wasi_fd_fdstat_set_flags(Vm&, const Value* a) {
  return u32(a[0]) <= 2 ? errno_::kSuccess : errno_::kBadf;
}

// No preopened directories. Go's runtime loops over fd_prestat_get until EBADF.
int32_t wasi_fd_prestat_get(Vm&, const Value*) { return errno_::kBadf; }
int32_t wasi_fd_prestat_dir_name(Vm&, const Value*) { return errno_::kBadf; }

int32_t wasi_clock_time_get(Vm& vm, const Value* a) {
  uint64_t t;
  switch (u32(a[0])) {
    case 0:
      t = now_ns();
      break;  // REALTIME
    case 1:   // MONOTONIC
    case 2:   // PROCESS_CPUTIME
    case 3:   // THREAD_CPUTIME
      t = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
      break;
    default:
      return errno_::kNotsup;
  }
  return vm.write_u64(u32(a[2]), t) ? errno_::kSuccess : errno_::kFault;
}

int32_t wasi_clock_res_get(Vm& vm, const Value* a) {
  if (u32(a[0]) > 3) return errno_::kNotsup;
  return vm.write_u64(u32(a[1]), 1) ? errno_::kSuccess : errno_::kFault;
}

int32_t wasi_random_get(Vm& vm, const Value* a) {
  uint32_t ptr = u32(a[0]);
  uint32_t len = u32(a[1]);
  if (len > 64 * 1024 * 1024) return errno_::kInval;
  auto mem = vm.memory();
  if (static_cast<uint64_t>(ptr) + len > mem.size()) return errno_::kFault;
  uint8_t* p = mem.data() + ptr;
  size_t done = 0;
  while (done < len) {
    ssize_t r = getrandom(p + done, len - done, 0);
    if (r <= 0) return errno_::kInval;
    done += static_cast<size_t>(r);
  }
  return errno_::kSuccess;
}

int32_t wasi_environ_sizes_get(Vm& vm, const Value* a) {
  const auto& env = vm.first_plugin().environment;
  uint64_t bytes = 0;
  for (const auto& e : env) bytes += e.size() + 1;
  if (!vm.write_u32(u32(a[0]), static_cast<uint32_t>(env.size()))) return errno_::kFault;
  if (!vm.write_u32(u32(a[1]), static_cast<uint32_t>(bytes))) return errno_::kFault;
  return errno_::kSuccess;
}

int32_t wasi_environ_get(Vm& vm, const Value* a) {
  const auto& env = vm.first_plugin().environment;
  uint32_t array = u32(a[0]);
  uint64_t buf = u32(a[1]);
  for (size_t i = 0; i < env.size(); ++i) {
    uint64_t at = static_cast<uint64_t>(array) + 4ull * i;
    if (at > UINT32_MAX || buf > UINT32_MAX) return errno_::kFault;
    if (!vm.write_u32(static_cast<uint32_t>(at), static_cast<uint32_t>(buf)) ||
        !vm.write_bytes(static_cast<uint32_t>(buf), env[i].c_str(), env[i].size() + 1)) {
      return errno_::kFault;
    }
    buf += env[i].size() + 1;
  }
  return errno_::kSuccess;
}

int32_t wasi_args_sizes_get(Vm& vm, const Value* a) {
  if (!vm.write_u32(u32(a[0]), 0) || !vm.write_u32(u32(a[1]), 0)) return errno_::kFault;
  return errno_::kSuccess;
}

int32_t wasi_args_get(Vm&, const Value*) { return errno_::kSuccess; }

int32_t wasi_sched_yield(Vm&, const Value*) { return errno_::kSuccess; }

// Minimal: every subscription fires at once (a plugin must not sleep on a worker).
int32_t wasi_poll_oneoff(Vm& vm, const Value* a) {
  uint32_t in = u32(a[0]);
  uint32_t out = u32(a[1]);
  uint32_t n = u32(a[2]);
  if (n > 4096) return errno_::kInval;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t at = static_cast<uint64_t>(in) + 48ull * i;
    uint64_t out_at = static_cast<uint64_t>(out) + 32ull * i;
    if (at > UINT32_MAX || out_at > UINT32_MAX) return errno_::kFault;
    auto sub = vm.slice(static_cast<uint32_t>(at), 48);
    if (!sub) return errno_::kFault;
    uint8_t event[32] = {};
    std::memcpy(event, sub->data(), 8);           // userdata
    event[10] = static_cast<uint8_t>((*sub)[8]);  // type = the subscription's tag
    if (!vm.write_bytes(static_cast<uint32_t>(out_at), event, sizeof event)) return errno_::kFault;
  }
  return vm.write_u32(u32(a[3]), n) ? errno_::kSuccess : errno_::kFault;
}

HostResult wasi_proc_exit(HostCall& c) {
  Vm& vm = *static_cast<Vm*>(c.host_data);
  std::string why = "proc_exit(" + std::to_string(c.args.empty() ? 0 : c.args[0].i32) + ") called";
  vm.fail(why);
  return HostResult::trap_with(why);
}

// ---------------------------------------------------------------- stubs

// Unknown imports (and known ones not implemented yet) are bound to one of these slots;
// the slot number finds the stub's name and answer in the PluginModule.
template <size_t N>
HostResult stub(HostCall& c) {
  Vm& vm = *static_cast<Vm*>(c.host_data);
  const PluginModule::Stub* s = vm.plugin_module().stub(N);
  if (!s) return HostResult::i32(static_cast<int32_t>(WasmResult::Unimplemented));
  if (!s->logged.exchange(true, std::memory_order_relaxed)) {
    spdlog::warn("wasm plugin '{}': called {}.{}, which weir does not implement (answered {})",
                 vm.first_plugin().name, s->module, s->name, s->answer);
  }
  return HostResult::i32(s->answer);
}

constexpr size_t kStubSlots = 256;
template <size_t... I>
constexpr std::array<wasm::HostFunction, sizeof...(I)> make_stubs(std::index_sequence<I...>) {
  return {&stub<I>...};
}
constexpr auto kStubs = make_stubs(std::make_index_sequence<kStubSlots>{});

// ---------------------------------------------------------------- the table

enum Versions : uint8_t {
  k010 = 1,
  k020 = 2,
  k021 = 4,
  kHigress = 8,  // proxy_abi_version_0_2_100: 0.2.1 plus Higress's functions
  k02x = k020 | k021 | kHigress,
  kAll = k010 | k020 | k021 | kHigress,
};

enum class Module : uint8_t { Env, Wasi };

// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): fields in the order a row reads
struct HostFunctionDef {
  Module module;
  std::string_view name;
  uint8_t versions;
  std::string_view sig;   // params ':' results; i = i32, I = i64
  wasm::HostFunction fn;  // nullptr: not implemented yet (UNIMPLEMENTED / ENOSYS stub)
};

// clang-format off
constexpr HostFunctionDef kHostFunctions[] = {
  // logging, time, timers, configuration
  {Module::Env, "proxy_log", kAll, "iii:i", &adapt<proxy_log>},
  {Module::Env, "proxy_get_log_level", k02x, "i:i", &adapt<proxy_get_log_level>},
  {Module::Env, "proxy_get_current_time_nanoseconds", kAll, "i:i", &adapt<proxy_get_current_time_nanoseconds>},
  {Module::Env, "proxy_set_tick_period_milliseconds", kAll, "i:i", &adapt<proxy_set_tick_period_milliseconds>},
  {Module::Env, "proxy_get_configuration", k010, "ii:i", &adapt<proxy_get_configuration>},
  // context lifecycle
  {Module::Env, "proxy_set_effective_context", kAll, "i:i", &adapt<proxy_set_effective_context>},
  {Module::Env, "proxy_done", kAll, ":i", &adapt<proxy_done>},
  // buffers
  {Module::Env, "proxy_get_buffer_bytes", kAll, "iiiii:i", &adapt<proxy_get_buffer_bytes>},
  {Module::Env, "proxy_get_buffer_status", kAll, "iii:i", &adapt<proxy_get_buffer_status>},
  {Module::Env, "proxy_set_buffer_bytes", kAll, "iiiii:i", &adapt<proxy_set_buffer_bytes>},
  // header maps
  {Module::Env, "proxy_get_header_map_value", kAll, "iiiii:i", &adapt<proxy_get_header_map_value>},
  {Module::Env, "proxy_get_header_map_pairs", kAll, "iii:i", &adapt<proxy_get_header_map_pairs>},
  {Module::Env, "proxy_set_header_map_pairs", kAll, "iii:i", &adapt<proxy_set_header_map_pairs>},
  {Module::Env, "proxy_get_header_map_size", kAll, "ii:i", &adapt<proxy_get_header_map_size>},
  {Module::Env, "proxy_add_header_map_value", kAll, "iiiii:i", &adapt<add_or_replace<0>>},
  {Module::Env, "proxy_replace_header_map_value", kAll, "iiiii:i", &adapt<add_or_replace<1>>},
  {Module::Env, "proxy_remove_header_map_value", kAll, "iii:i", &adapt<proxy_remove_header_map_value>},
  // properties
  {Module::Env, "proxy_get_property", kAll, "iiii:i", &adapt<proxy_get_property>},
  {Module::Env, "proxy_set_property", kAll, "iiii:i", &adapt<proxy_set_property>},
  // stream control
  {Module::Env, "proxy_send_local_response", kAll, "iiiiiiii:i", &adapt<proxy_send_local_response>},
  {Module::Env, "proxy_continue_stream", k02x, "i:i", &adapt<proxy_continue_stream>},
  {Module::Env, "proxy_close_stream", k02x, "i:i", &adapt<proxy_close_stream>},
  {Module::Env, "proxy_continue_request", k010, ":i", &adapt<proxy_continue_010<StreamType::Request>>},
  {Module::Env, "proxy_continue_response", k010, ":i", &adapt<proxy_continue_010<StreamType::Response>>},
  {Module::Env, "proxy_clear_route_cache", k010, ":i", &adapt<proxy_clear_route_cache>},
  {Module::Env, "proxy_get_status", kAll, "iii:i", &adapt<proxy_get_status>},
  // metrics
  {Module::Env, "proxy_define_metric", kAll, "iiii:i", &adapt<proxy_define_metric>},
  {Module::Env, "proxy_increment_metric", kAll, "iI:i", &adapt<proxy_increment_metric>},
  {Module::Env, "proxy_record_metric", kAll, "iI:i", &adapt<proxy_record_metric>},
  {Module::Env, "proxy_get_metric", kAll, "ii:i", &adapt<proxy_get_metric>},
  // not implemented yet (issue 3): UNIMPLEMENTED stubs
  // asynchronous calls, shared state
  {Module::Env, "proxy_http_call", kAll, "iiiiiiiiii:i", &adapt<host::proxy_http_call>},
  {Module::Env, "proxy_set_shared_data", kAll, "iiiii:i", &adapt<host::proxy_set_shared_data>},
  {Module::Env, "proxy_get_shared_data", kAll, "iiiii:i", &adapt<host::proxy_get_shared_data>},
  {Module::Env, "proxy_register_shared_queue", kAll, "iii:i", &adapt<host::proxy_register_shared_queue>},
  {Module::Env, "proxy_resolve_shared_queue", kAll, "iiiii:i", &adapt<host::proxy_resolve_shared_queue>},
  {Module::Env, "proxy_enqueue_shared_queue", kAll, "iii:i", &adapt<host::proxy_enqueue_shared_queue>},
  {Module::Env, "proxy_dequeue_shared_queue", kAll, "iii:i", &adapt<host::proxy_dequeue_shared_queue>},
  {Module::Env, "proxy_call_foreign_function", kAll, "iiiiii:i", &adapt<host::proxy_call_foreign_function>},
  // Higress (0.2.100 only): Redis calls; the other three are not implemented
  // (UNIMPLEMENTED stubs: Higress's SDK imports them only for plugins that use them)
  {Module::Env, "proxy_redis_init", kHigress, "iiiiiii:i", &adapt<host::proxy_redis_init>},
  {Module::Env, "proxy_redis_call", kHigress, "iiiii:i", &adapt<host::proxy_redis_call>},
  {Module::Env, "proxy_inject_encoded_data_to_filter_chain", kHigress, "iii:i", nullptr},
  {Module::Env, "proxy_get_upstream_hosts", kHigress, "ii:i", nullptr},
  {Module::Env, "proxy_set_upstream_override_host", kHigress, "ii:i", nullptr},
  // gRPC calls and streams
  {Module::Env, "proxy_grpc_call", kAll, "iiiiiiiiiiii:i", &adapt<host::proxy_grpc_call>},
  {Module::Env, "proxy_grpc_stream", kAll, "iiiiiiiii:i", &adapt<host::proxy_grpc_stream>},
  {Module::Env, "proxy_grpc_send", kAll, "iiii:i", &adapt<host::proxy_grpc_send>},
  {Module::Env, "proxy_grpc_cancel", kAll, "i:i", &adapt<host::proxy_grpc_cancel>},
  {Module::Env, "proxy_grpc_close", kAll, "i:i", &adapt<host::proxy_grpc_close>},
  // WASI (wasi_snapshot_preview1 and wasi_unstable)
  {Module::Wasi, "fd_write", kAll, "iiii:i", &adapt<wasi_fd_write>},
  {Module::Wasi, "fd_read", kAll, "iiii:i", &adapt<wasi_fd_read>},
  {Module::Wasi, "fd_seek", kAll, "iIii:i", &adapt<wasi_fd_seek>},
  {Module::Wasi, "fd_close", kAll, "i:i", &adapt<wasi_fd_close>},
  {Module::Wasi, "fd_fdstat_get", kAll, "ii:i", &adapt<wasi_fd_fdstat_get>},
  {Module::Wasi, "fd_fdstat_set_flags", kAll, "ii:i", &adapt<wasi_fd_fdstat_set_flags>},
  {Module::Wasi, "fd_prestat_get", kAll, "ii:i", &adapt<wasi_fd_prestat_get>},
  {Module::Wasi, "fd_prestat_dir_name", kAll, "iii:i", &adapt<wasi_fd_prestat_dir_name>},
  {Module::Wasi, "clock_time_get", kAll, "iIi:i", &adapt<wasi_clock_time_get>},
  {Module::Wasi, "clock_res_get", kAll, "ii:i", &adapt<wasi_clock_res_get>},
  {Module::Wasi, "random_get", kAll, "ii:i", &adapt<wasi_random_get>},
  {Module::Wasi, "environ_sizes_get", kAll, "ii:i", &adapt<wasi_environ_sizes_get>},
  {Module::Wasi, "environ_get", kAll, "ii:i", &adapt<wasi_environ_get>},
  {Module::Wasi, "args_sizes_get", kAll, "ii:i", &adapt<wasi_args_sizes_get>},
  {Module::Wasi, "args_get", kAll, "ii:i", &adapt<wasi_args_get>},
  {Module::Wasi, "proc_exit", kAll, "i:", &wasi_proc_exit},
  {Module::Wasi, "sched_yield", kAll, ":i", &adapt<wasi_sched_yield>},
  {Module::Wasi, "poll_oneoff", kAll, "iiii:i", &adapt<wasi_poll_oneoff>},
};
// clang-format on

// WASI functions about files and sockets: with no preopened directory every descriptor but
// 0-2 is bad; answered by a stub (any declared type) with this errno, logged at debug.
constexpr std::string_view kWasiBadfFunctions[] = {
    "fd_advise",
    "fd_allocate",
    "fd_datasync",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_pwrite",
    "fd_readdir",
    "fd_renumber",
    "fd_sync",
    "fd_tell",
    "fd_fdstat_set_rights",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
};

bool sig_matches(std::string_view sig, const wasm::FunctionType& t) {
  size_t colon = sig.find(':');
  std::string_view params = sig.substr(0, colon);
  std::string_view results = sig.substr(colon + 1);
  if (params.size() != t.params.size()) return false;
  for (size_t i = 0; i < params.size(); ++i) {
    wasm::ValType want = params[i] == 'I' ? wasm::ValType::I64 : wasm::ValType::I32;
    if (t.params[i] != want) return false;
  }
  // Results: bind the declared type. A host function with an i32 status may be imported
  // without a result (0.1.0 text) or with one (Rust SDK); none may not grow one of i64.
  if (t.results.size() > 1) return false;
  if (t.results.size() == 1 && t.results[0] != wasm::ValType::I32) return false;
  (void)results;
  return true;
}

}  // namespace

Result<std::shared_ptr<const PluginModule>> PluginModule::create(
    std::shared_ptr<const wasm::CompiledModule> module, std::string_view plugin_name) {
  auto abi = detect_abi_version(*module);
  if (!abi.ok()) return Error{abi.error()};
  auto pm = std::make_shared<PluginModule>();
  pm->module_ = std::move(module);
  pm->abi_ = abi.value();
  const uint8_t version_bit = static_cast<uint8_t>(1u << static_cast<unsigned>(pm->abi_));

  auto add_stub = [&](const wasm::FunctionImport& imp, int32_t answer, std::string why,
                      spdlog::level::level_enum level) {
    size_t slot = pm->stubs_.size();
    if (slot >= kStubSlots) slot = kStubSlots - 1;  // shares the last slot's answer/name
    if (pm->stubs_.size() < kStubSlots) {
      auto s = std::make_unique<Stub>();
      s->module = imp.module;
      s->name = imp.name;
      s->answer = answer;
      pm->stubs_.push_back(std::move(s));
    }
    pm->bindings_.push_back(wasm::HostBinding{imp.module, imp.name, imp.type, kStubs[slot]});
    spdlog::log(level, "wasm plugin '{}': import {}.{} {}: bound to a stub answering {}",
                plugin_name, imp.module, imp.name, why, answer);
    pm->stubbed_.push_back(imp.module + "." + imp.name + " (" + why + ")");
  };

  for (const wasm::FunctionImport& imp : pm->module_->function_imports()) {
    const bool is_env = imp.module == "env";
    const bool is_wasi = imp.module == "wasi_snapshot_preview1" || imp.module == "wasi_unstable";
    const HostFunctionDef* def = nullptr;
    for (const auto& d : kHostFunctions) {
      if (d.name == imp.name &&
          ((d.module == Module::Env && is_env) || (d.module == Module::Wasi && is_wasi))) {
        def = &d;
        break;
      }
    }
    const int32_t unimpl_answer =
        is_wasi ? wasi_errno::kNosys : static_cast<int32_t>(WasmResult::Unimplemented);
    if (def) {
      if (!(def->versions & version_bit)) {
        add_stub(imp, unimpl_answer,
                 "is not part of ABI " + std::string(abi_version_name(pm->abi_)),
                 spdlog::level::warn);
      } else if (!sig_matches(def->sig, imp.type)) {
        add_stub(imp, unimpl_answer, "is imported with an unexpected type", spdlog::level::warn);
      } else if (!def->fn) {
        add_stub(imp, unimpl_answer, "is not implemented by weir yet", spdlog::level::info);
      } else {
        pm->bindings_.push_back(wasm::HostBinding{imp.module, imp.name, imp.type, def->fn});
      }
      continue;
    }
    if (is_wasi) {
      bool badf = false;
      for (auto n : kWasiBadfFunctions) badf = badf || n == imp.name;
      if (badf) {
        add_stub(imp, wasi_errno::kBadf, "(files: no preopened directories)", spdlog::level::debug);
      } else {
        add_stub(imp, wasi_errno::kNosys, "is an unknown WASI function", spdlog::level::warn);
      }
    } else if (is_env && imp.name.starts_with("proxy_")) {
      add_stub(imp, static_cast<int32_t>(WasmResult::Unimplemented),
               "is an unknown Proxy-Wasm function", spdlog::level::warn);
    } else {
      add_stub(imp, 0, "is unknown to weir", spdlog::level::warn);
    }
  }
  return std::shared_ptr<const PluginModule>(std::move(pm));
}

// For `--mode validate` (plugin_report.h): what PluginModule::create binds to a real function.
bool host_function_implemented(std::string_view module, std::string_view name, AbiVersion abi) {
  const bool is_env = module == "env";
  const bool is_wasi = module == "wasi_snapshot_preview1" || module == "wasi_unstable";
  const uint8_t version_bit = static_cast<uint8_t>(1u << static_cast<unsigned>(abi));
  for (const auto& d : kHostFunctions) {
    const bool same_module =
        (d.module == Module::Env && is_env) || (d.module == Module::Wasi && is_wasi);
    if (d.name == name && same_module) return d.fn != nullptr && (d.versions & version_bit) != 0;
  }
  return false;
}

}  // namespace weir::proxy_wasm
