#pragma once
// weir C++ plugin SDK: write Proxy-Wasm (ABI 0.2.1) plugins for weir and Envoy.
//
//   #include "weir/plugin.h"
//
//   class MyRoot : public weir::RootContext { using RootContext::RootContext; ... };
//   class MyHttp : public weir::HttpContext { using HttpContext::HttpContext; ... };
//   static weir::RegisterContextFactory reg(weir::root_factory<MyRoot>,
//                                           weir::http_factory<MyHttp>, "my_root_id");
//
// Built with -fno-exceptions -fno-rtti: nothing here throws. Calls that can fail return a
// weir::Status, a HostBytes (which carries one) or a std::optional. See sdk/cpp/README.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "codec.h"
#include "config.h"
#include "types.h"

namespace weir {

// ---- Bytes the host handed to the plugin ------------------------------------------------

// Owns a buffer the host allocated in plugin memory (freed on destruction), or holds the
// status of a call that failed. Move-only.
class HostBytes {
 public:
  HostBytes() = default;
  explicit HostBytes(Status status) : status_(status) {}
  HostBytes(char* data, size_t size) : data_(data), size_(size) {}
  HostBytes(HostBytes&& o) noexcept : data_(o.data_), size_(o.size_), status_(o.status_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  HostBytes& operator=(HostBytes&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = o.data_;
      size_ = o.size_;
      status_ = o.status_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  HostBytes(const HostBytes&) = delete;
  HostBytes& operator=(const HostBytes&) = delete;
  ~HostBytes() { std::free(data_); }

  Status status() const { return status_; }
  bool ok() const { return status_ == Status::Ok; }
  explicit operator bool() const { return ok(); }

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_ ? data_ : "", size_}; }
  std::string str() const { return std::string(view()); }
  // The value if the call succeeded, else `fallback`.
  std::string_view value_or(std::string_view fallback) const { return ok() ? view() : fallback; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  Status status_ = Status::Ok;
};

// ---- Logging ----------------------------------------------------------------------------

void log(LogLevel level, std::string_view message);
inline void log_trace(std::string_view m) { log(LogLevel::Trace, m); }
inline void log_debug(std::string_view m) { log(LogLevel::Debug, m); }
inline void log_info(std::string_view m) { log(LogLevel::Info, m); }
inline void log_warn(std::string_view m) { log(LogLevel::Warn, m); }
inline void log_error(std::string_view m) { log(LogLevel::Error, m); }
inline void log_critical(std::string_view m) { log(LogLevel::Critical, m); }

// The host's current log level (Trace when the host cannot tell).
LogLevel log_level();
inline bool log_enabled(LogLevel level) { return level >= log_level(); }

// WEIR_LOG(level, parts...) concatenates its parts (strings, integers, bools, Status) with
// str_cat() and logs the result, building the string only when the host would keep it.
#define WEIR_LOG(level, ...)                                                               \
  do {                                                                                     \
    if (::weir::log_enabled(level)) ::weir::log(level, ::weir::sdk::str_cat(__VA_ARGS__)); \
  } while (0)
#define WEIR_LOG_TRACE(...) WEIR_LOG(::weir::LogLevel::Trace, __VA_ARGS__)
#define WEIR_LOG_DEBUG(...) WEIR_LOG(::weir::LogLevel::Debug, __VA_ARGS__)
#define WEIR_LOG_INFO(...) WEIR_LOG(::weir::LogLevel::Info, __VA_ARGS__)
#define WEIR_LOG_WARN(...) WEIR_LOG(::weir::LogLevel::Warn, __VA_ARGS__)
#define WEIR_LOG_ERROR(...) WEIR_LOG(::weir::LogLevel::Error, __VA_ARGS__)
#define WEIR_LOG_CRITICAL(...) WEIR_LOG(::weir::LogLevel::Critical, __VA_ARGS__)
#ifndef WEIR_NO_SHORT_LOG_MACROS
#define LOG_TRACE(...) WEIR_LOG_TRACE(__VA_ARGS__)
#define LOG_DEBUG(...) WEIR_LOG_DEBUG(__VA_ARGS__)
#define LOG_INFO(...) WEIR_LOG_INFO(__VA_ARGS__)
#define LOG_WARN(...) WEIR_LOG_WARN(__VA_ARGS__)
#define LOG_ERROR(...) WEIR_LOG_ERROR(__VA_ARGS__)
#define LOG_CRITICAL(...) WEIR_LOG_CRITICAL(__VA_ARGS__)
#endif

// ---- Configuration ----------------------------------------------------------------------
// RootContext::on_vm_start / on_configure receive these already; these calls are for
// reading them again while the host still offers them (inside those callbacks).
HostBytes get_vm_configuration();
HostBytes get_plugin_configuration();

// ---- Header maps ------------------------------------------------------------------------

// All fields of a map, parsed once; the views stay valid as long as this object lives.
class HeaderPairs {
 public:
  HeaderPairs() = default;
  explicit HeaderPairs(Status status) : raw_(status) {}
  explicit HeaderPairs(HostBytes raw);

  Status status() const { return raw_.status(); }
  bool ok() const { return raw_.ok(); }

  const std::vector<HeaderPair>& pairs() const { return pairs_; }
  size_t size() const { return pairs_.size(); }
  bool empty() const { return pairs_.empty(); }
  auto begin() const { return pairs_.begin(); }
  auto end() const { return pairs_.end(); }
  const HeaderPair& operator[](size_t i) const { return pairs_[i]; }
  // First value for `name` (exact, case-sensitive: hosts give lower-case names).
  std::optional<std::string_view> get(std::string_view name) const;

 private:
  HostBytes raw_;
  std::vector<HeaderPair> pairs_;
};

// A handle on one of the host's maps. Cheap to copy; every call goes to the host.
//   weir::request_headers().add("x-foo", "bar");
//   if (auto v = weir::request_headers().get(":path")) use(v.view());
class Headers {
 public:
  explicit constexpr Headers(MapType type) : type_(type) {}
  MapType type() const { return type_; }

  // First value of `name`: status NotFound when absent.
  HostBytes get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).ok(); }
  Status add(std::string_view name, std::string_view value) const;
  // Sets `name` to `value`, replacing existing values (adds it when absent).
  Status replace(std::string_view name, std::string_view value) const;
  Status remove(std::string_view name) const;
  HeaderPairs pairs() const;
  // Replaces the whole map.
  Status set_pairs(const std::vector<HeaderPair>& pairs) const;
  // Serialized size of the map in bytes.
  std::optional<size_t> byte_size() const;

 private:
  MapType type_;
};

constexpr Headers request_headers() { return Headers(MapType::HttpRequestHeaders); }
constexpr Headers request_trailers() { return Headers(MapType::HttpRequestTrailers); }
constexpr Headers response_headers() { return Headers(MapType::HttpResponseHeaders); }
constexpr Headers response_trailers() { return Headers(MapType::HttpResponseTrailers); }
constexpr Headers http_call_response_headers() { return Headers(MapType::HttpCallResponseHeaders); }
constexpr Headers http_call_response_trailers() {
  return Headers(MapType::HttpCallResponseTrailers);
}

// ---- Buffers (bodies) -------------------------------------------------------------------

constexpr size_t kAllBytes = 0xFFFFFFFFu;
HostBytes get_buffer(BufferType type, size_t start = 0, size_t max_size = kAllBytes);
// Replaces `length` bytes at `start` with `data` (see the ABI for the host's rules).
Status set_buffer(BufferType type, size_t start, size_t length, std::string_view data);
std::optional<size_t> buffer_size(BufferType type);

// A handle on one body buffer: what the current body callback sees (the chunk, or the
// whole body buffered so far when earlier calls returned Action::Pause).
class Body {
 public:
  explicit constexpr Body(BufferType type) : type_(type) {}
  HostBytes get(size_t start = 0, size_t max_size = kAllBytes) const {
    return get_buffer(type_, start, max_size);
  }
  std::optional<size_t> size() const { return buffer_size(type_); }
  Status replace(std::string_view data) const;
  Status append(std::string_view data) const;
  Status prepend(std::string_view data) const { return set_buffer(type_, 0, 0, data); }

 private:
  BufferType type_;
};

constexpr Body request_body() { return Body(BufferType::HttpRequestBody); }
constexpr Body response_body() { return Body(BufferType::HttpResponseBody); }
constexpr Body http_call_response_body() { return Body(BufferType::HttpCallResponseBody); }
// A network filter's bytes: the client's during NetworkContext::on_downstream_data, the
// upstream's during on_upstream_data (all bytes held so far). replace("") drops them.
constexpr Body downstream_data() { return Body(BufferType::DownstreamData); }
constexpr Body upstream_data() { return Body(BufferType::UpstreamData); }

// ---- Stream control ---------------------------------------------------------------------

Status continue_request();
Status continue_response();
Status close_request();
Status close_response();
// Network filters: release the bytes this plugin holds (Pause); close the proxied
// connection, both sides (takes effect after the callback; unsent bytes are dropped).
Status continue_downstream();
Status continue_upstream();
Status close_downstream();
Status close_upstream();

// Answers the client directly; nothing (more) goes upstream. The return value of the
// callback you call it from does not matter any more (return Action::Pause).
Status send_local_response(uint32_t status_code, std::string_view body = {},
                           const std::vector<HeaderPair>& headers = {},
                           std::string_view details = {}, int32_t grpc_status = -1);

// ---- Properties -------------------------------------------------------------------------
// Paths are token lists: {"request", "path"}, {"plugin_root_id"}, {"source", "address"}.

using PropertyPath = std::initializer_list<std::string_view>;
HostBytes get_property(PropertyPath path);
std::optional<std::string> get_property_string(PropertyPath path);
std::optional<int64_t> get_property_int64(PropertyPath path);
std::optional<bool> get_property_bool(PropertyPath path);
Status set_property(PropertyPath path, std::string_view value);
Status set_property_int64(PropertyPath path, int64_t value);

// ---- Time and timers --------------------------------------------------------------------

// Nanoseconds since the Unix epoch, as the host sees it (0 if it cannot tell).
uint64_t current_time_ns();
// Calls the current root context's on_tick() every `period_ms` (0 stops it). Call it from
// a root context callback (on_vm_start, on_configure, on_tick).
Status set_tick_period_ms(uint32_t period_ms);

// ---- Metrics ----------------------------------------------------------------------------
// Define once (e.g. in RootContext::on_vm_start), keep the object, use it anywhere.
// Defining the same name again gives the same metric. Operations on a metric that failed
// to define return Status::BadArgument without calling the host.

std::optional<uint32_t> define_metric(MetricType type, std::string_view name);

class Counter {
 public:
  Counter() = default;
  static Counter define(std::string_view name);
  bool valid() const { return valid_; }
  uint32_t id() const { return id_; }
  Status increment(uint64_t by = 1) const;
  std::optional<uint64_t> value() const;

 private:
  uint32_t id_ = 0;
  bool valid_ = false;
};

class Gauge {
 public:
  Gauge() = default;
  static Gauge define(std::string_view name);
  bool valid() const { return valid_; }
  uint32_t id() const { return id_; }
  Status set(uint64_t value) const;
  Status add(int64_t delta) const;  // negative subtracts
  std::optional<uint64_t> value() const;

 private:
  uint32_t id_ = 0;
  bool valid_ = false;
};

class Histogram {
 public:
  Histogram() = default;
  static Histogram define(std::string_view name);
  bool valid() const { return valid_; }
  uint32_t id() const { return id_; }
  Status record(uint64_t value) const;

 private:
  uint32_t id_ = 0;
  bool valid_ = false;
};

// Metrics with tags: one metric per combination of tag values, named
// "<base>.<tag1>.<value1>.<tag2>.<value2>" (see sdk::metric_name), defined on first use.
//   auto reqs = weir::CounterFamily("myplugin.requests", {"method", "code"});
//   reqs.get({"GET", "200"}).increment();
template <class Metric>
class MetricFamily {
 public:
  MetricFamily() = default;
  MetricFamily(std::string_view base, std::initializer_list<std::string_view> tag_names)
      : base_(base), tags_(tag_names.begin(), tag_names.end()) {}

  // The metric for these tag values (as many as tag names, in the same order); an invalid
  // metric when the count differs or the name is not a valid metric name.
  Metric get(std::initializer_list<std::string_view> tag_values) {
    if (tag_values.size() != tags_.size()) return Metric();
    std::vector<std::pair<std::string_view, std::string_view>> tags;
    tags.reserve(tags_.size());
    auto v = tag_values.begin();
    for (const std::string& t : tags_) tags.emplace_back(t, *v++);
    std::string name = sdk::metric_name(base_, tags);
    if (name.empty()) return Metric();
    for (const auto& [n, m] : cache_) {
      if (n == name) return m;
    }
    Metric m = Metric::define(name);
    if (m.valid()) cache_.emplace_back(std::move(name), m);
    return m;
  }

 private:
  std::string base_;
  std::vector<std::string> tags_;
  std::vector<std::pair<std::string, Metric>> cache_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

// ---- Shared data and queues -------------------------------------------------------------
// Shared data is process-wide for every VM with the same vm_id.

struct SharedData {
  HostBytes value;   // status NotFound when the key is absent
  uint32_t cas = 0;  // pass back to set_shared_data for compare-and-swap
};
SharedData get_shared_data(std::string_view key);
// cas 0: unconditional. Otherwise Status::CasMismatch when someone wrote in between.
Status set_shared_data(std::string_view key, std::string_view value, uint32_t cas = 0);

// Read-modify-write with compare-and-swap, retried while other VMs write in between.
// `update` gets the current value (std::nullopt when the key is absent) and returns the
// value to store, or std::nullopt to store nothing; declare its return type:
//   weir::update_shared_data("hits", [](std::optional<std::string_view> v)
//                                        -> std::optional<std::string> {
//     uint64_t n = v ? weir::sdk::parse_uint(*v).value_or(0) : 0;
//     return weir::str_cat(n + 1);
//   });
// `update` may run several times (once per lost race): keep side effects out of it, or let
// the last run's win. Returns Ok (stored, or nothing to store), CasMismatch after
// `max_attempts` lost races, or the host's error. Creating an absent key is not atomic (the
// ABI has no create-if-absent): two VMs creating it at once both succeed, the last wins.
template <class Update>
Status update_shared_data(std::string_view key, Update&& update, int max_attempts = 32) {
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    SharedData current = get_shared_data(key);
    std::optional<std::string_view> value;
    if (current.value.ok()) {
      value = current.value.view();
    } else if (current.value.status() != Status::NotFound) {
      return current.value.status();
    }
    std::optional<std::string> next = update(value);
    if (!next) return Status::Ok;
    Status stored = set_shared_data(key, *next, current.cas);
    if (stored != Status::CasMismatch) return stored;
  }
  return Status::CasMismatch;
}

std::optional<uint32_t> register_shared_queue(std::string_view name);
std::optional<uint32_t> resolve_shared_queue(std::string_view vm_id, std::string_view name);
Status enqueue_shared_queue(uint32_t queue_id, std::string_view data);
// Status Empty when there is nothing to dequeue.
HostBytes dequeue_shared_queue(uint32_t queue_id);

// Makes `context_id` the context later host calls act on (done for you in callbacks).
Status set_effective_context(uint32_t context_id);

// ---- Contexts ---------------------------------------------------------------------------

class RootContext;

// Called with the answer to http_call(): read it with http_call_response_headers(),
// http_call_response_body(). num_headers == 0 means the call failed (timeout, connect).
using HttpCallCallback =
    std::function<void(uint32_t num_headers, size_t body_size, uint32_t num_trailers)>;

class ContextBase {
 public:
  ContextBase(const ContextBase&) = delete;
  ContextBase& operator=(const ContextBase&) = delete;
  virtual ~ContextBase() = default;

  enum class Kind : uint8_t { Root, Http, Network };

  uint32_t id() const { return id_; }
  bool is_root() const { return kind_ == Kind::Root; }
  Kind kind() const { return kind_; }

  // The host is done with this context. Return false to keep it alive and finish later
  // (root contexts: call done() when finished).
  virtual bool on_done() { return true; }
  // Final logging point (access-log phase): request/response maps are still readable.
  virtual void on_log() {}
  // The context is about to be destroyed.
  virtual void on_delete() {}

  // Sends an HTTP request to a configured cluster. `headers` must include ":method",
  // ":path" and ":authority". `callback` runs in this context when the answer arrives
  // (or the call fails); it does not run if this context is gone by then.
  Status http_call(std::string_view cluster, const std::vector<HeaderPair>& headers,
                   std::string_view body, uint32_t timeout_ms, HttpCallCallback callback,
                   uint32_t* token = nullptr);

 protected:
  ContextBase(uint32_t id, Kind kind) : id_(id), kind_(kind) {}

 private:
  uint32_t id_;
  Kind kind_;
};

// One per plugin configuration per VM: lives as long as the plugin. Defines metrics,
// reads the configuration, owns timers and shared-queue subscriptions.
class RootContext : public ContextBase {
 public:
  RootContext(uint32_t id, std::string_view root_id)
      : ContextBase(id, Kind::Root), root_id_(root_id) {}

  // The root_id from the plugin configuration ("" when none is set).
  std::string_view root_id() const { return root_id_; }

  // VM configuration (vm_config.configuration). Return false to fail the plugin load.
  virtual bool on_vm_start(std::string_view vm_configuration) { return true; }
  // Plugin configuration (config.configuration). Return false to fail the plugin load.
  virtual bool on_configure(std::string_view plugin_configuration) { return true; }
  // Every tick period (set_tick_period_ms).
  virtual void on_tick() {}
  // An item arrived on a shared queue this VM registered.
  virtual void on_queue_ready(uint32_t queue_id) {}

  // After returning false from on_done(): tells the host this context is finished.
  Status done();

 private:
  friend struct Dispatcher;
  std::string root_id_;
  int registration_ = -1;
};

// One per HTTP request/response pair.
class HttpContext : public ContextBase {
 public:
  HttpContext(uint32_t id, RootContext* root) : ContextBase(id, Kind::Http), root_(root) {}

  RootContext* root() const { return root_; }
  // The root context as the type your registration created (no RTTI: a static_cast).
  template <class T>
  T* root_as() const {
    return static_cast<T*>(root_);
  }

  virtual Action on_request_headers(uint32_t num_headers, bool end_of_stream) {
    return Action::Continue;
  }
  virtual Action on_request_body(size_t body_size, bool end_of_stream) { return Action::Continue; }
  virtual Action on_request_trailers(uint32_t num_trailers) { return Action::Continue; }
  virtual Action on_response_headers(uint32_t num_headers, bool end_of_stream) {
    return Action::Continue;
  }
  virtual Action on_response_body(size_t body_size, bool end_of_stream) { return Action::Continue; }
  virtual Action on_response_trailers(uint32_t num_trailers) { return Action::Continue; }

 private:
  RootContext* root_;
};

// One per TCP connection through an envoy.filters.network.wasm filter (before tcp_proxy).
// Read and rewrite the bytes with downstream_data() / upstream_data() in the data
// callbacks; hold them with Action::Pause; close with close_downstream().
class NetworkContext : public ContextBase {
 public:
  NetworkContext(uint32_t id, RootContext* root) : ContextBase(id, Kind::Network), root_(root) {}

  RootContext* root() const { return root_; }
  template <class T>
  T* root_as() const {
    return static_cast<T*>(root_);
  }

  // The client connected; the upstream connect comes after this returns Continue.
  virtual Action on_new_connection() { return Action::Continue; }
  // Bytes from the client (`data_size`: all held so far); end_of_stream: the client shut
  // down its sending side.
  virtual Action on_downstream_data(size_t data_size, bool end_of_stream) {
    return Action::Continue;
  }
  // Bytes from the upstream, likewise.
  virtual Action on_upstream_data(size_t data_size, bool end_of_stream) { return Action::Continue; }
  // That side's connection closed (once each; then on_done, on_log, on_delete).
  virtual void on_downstream_connection_close(PeerType peer) {}
  virtual void on_upstream_connection_close(PeerType peer) {}

 private:
  RootContext* root_;
};

// ---- Callbacks exported only when implemented ---------------------------------------------
//
// A per-stream callback no context type of the plugin overrides is not exported at all:
// the host then skips it, where calling into Wasm for the empty default would cost far
// more than the default does. root_factory<T> and http_factory<T> instantiate the export
// of each callback T overrides (an override is found by the type of &T::callback, which
// names the base class's member when T declares none). Overrides must be public.
namespace sdk {

// Dispatch by context id (plugin.cc).
uint32_t dispatch_request_headers(uint32_t id, uint32_t num_headers, uint32_t end_of_stream);
uint32_t dispatch_request_body(uint32_t id, uint32_t body_size, uint32_t end_of_stream);
uint32_t dispatch_request_trailers(uint32_t id, uint32_t num_trailers);
uint32_t dispatch_response_headers(uint32_t id, uint32_t num_headers, uint32_t end_of_stream);
uint32_t dispatch_response_body(uint32_t id, uint32_t body_size, uint32_t end_of_stream);
uint32_t dispatch_response_trailers(uint32_t id, uint32_t num_trailers);
uint32_t dispatch_done(uint32_t id);
void dispatch_log(uint32_t id);
uint32_t dispatch_new_connection(uint32_t id);
uint32_t dispatch_downstream_data(uint32_t id, uint32_t data_size, uint32_t end_of_stream);
uint32_t dispatch_upstream_data(uint32_t id, uint32_t data_size, uint32_t end_of_stream);
void dispatch_downstream_connection_close(uint32_t id, uint32_t peer);
void dispatch_upstream_connection_close(uint32_t id, uint32_t peer);

#if defined(__wasm__)
// `used`: kept (and exported) once instantiated, though nothing in the module calls it.
#define WEIR_OPTIONAL_EXPORT(name) __attribute__((export_name(#name), used))
#else
#define WEIR_OPTIONAL_EXPORT(name)
#endif

// One class template per export: instantiating one never instantiates another.
template <class>
struct ExportRequestHeaders {
  WEIR_OPTIONAL_EXPORT(proxy_on_request_headers)
  static uint32_t call(uint32_t id, uint32_t n, uint32_t eos) {
    return dispatch_request_headers(id, n, eos);
  }
};
template <class>
struct ExportRequestBody {
  WEIR_OPTIONAL_EXPORT(proxy_on_request_body)
  static uint32_t call(uint32_t id, uint32_t size, uint32_t eos) {
    return dispatch_request_body(id, size, eos);
  }
};
template <class>
struct ExportRequestTrailers {
  WEIR_OPTIONAL_EXPORT(proxy_on_request_trailers)
  static uint32_t call(uint32_t id, uint32_t n) { return dispatch_request_trailers(id, n); }
};
template <class>
struct ExportResponseHeaders {
  WEIR_OPTIONAL_EXPORT(proxy_on_response_headers)
  static uint32_t call(uint32_t id, uint32_t n, uint32_t eos) {
    return dispatch_response_headers(id, n, eos);
  }
};
template <class>
struct ExportResponseBody {
  WEIR_OPTIONAL_EXPORT(proxy_on_response_body)
  static uint32_t call(uint32_t id, uint32_t size, uint32_t eos) {
    return dispatch_response_body(id, size, eos);
  }
};
template <class>
struct ExportResponseTrailers {
  WEIR_OPTIONAL_EXPORT(proxy_on_response_trailers)
  static uint32_t call(uint32_t id, uint32_t n) { return dispatch_response_trailers(id, n); }
};
template <class>
struct ExportDone {
  WEIR_OPTIONAL_EXPORT(proxy_on_done)
  static uint32_t call(uint32_t id) { return dispatch_done(id); }
};
template <class>
struct ExportLog {
  WEIR_OPTIONAL_EXPORT(proxy_on_log)
  static void call(uint32_t id) { dispatch_log(id); }
};

template <class>
struct ExportNewConnection {
  WEIR_OPTIONAL_EXPORT(proxy_on_new_connection)
  static uint32_t call(uint32_t id) { return dispatch_new_connection(id); }
};
template <class>
struct ExportDownstreamData {
  WEIR_OPTIONAL_EXPORT(proxy_on_downstream_data)
  static uint32_t call(uint32_t id, uint32_t size, uint32_t eos) {
    return dispatch_downstream_data(id, size, eos);
  }
};
template <class>
struct ExportUpstreamData {
  WEIR_OPTIONAL_EXPORT(proxy_on_upstream_data)
  static uint32_t call(uint32_t id, uint32_t size, uint32_t eos) {
    return dispatch_upstream_data(id, size, eos);
  }
};
template <class>
struct ExportDownstreamClose {
  WEIR_OPTIONAL_EXPORT(proxy_on_downstream_connection_close)
  static void call(uint32_t id, uint32_t peer) { dispatch_downstream_connection_close(id, peer); }
};
template <class>
struct ExportUpstreamClose {
  WEIR_OPTIONAL_EXPORT(proxy_on_upstream_connection_close)
  static void call(uint32_t id, uint32_t peer) { dispatch_upstream_connection_close(id, peer); }
};

// `void`, spelled so that it depends on T: a discarded `if constexpr` branch then
// instantiates nothing.
template <class T>
using DependentVoid = std::conditional_t<sizeof(T) != 0, void, T>;

template <class T, class Base>
void export_context_callbacks() {
  using V = DependentVoid<T>;
  if constexpr (!std::is_same_v<decltype(&T::on_done), decltype(&Base::on_done)>) {
    (void)&ExportDone<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_log), decltype(&Base::on_log)>) {
    (void)&ExportLog<V>::call;
  }
}

template <class T>
void export_http_callbacks() {
  using V = DependentVoid<T>;
  using B = HttpContext;
  if constexpr (!std::is_same_v<decltype(&T::on_request_headers),
                                decltype(&B::on_request_headers)>) {
    (void)&ExportRequestHeaders<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_request_body), decltype(&B::on_request_body)>) {
    (void)&ExportRequestBody<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_request_trailers),
                                decltype(&B::on_request_trailers)>) {
    (void)&ExportRequestTrailers<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_response_headers),
                                decltype(&B::on_response_headers)>) {
    (void)&ExportResponseHeaders<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_response_body), decltype(&B::on_response_body)>) {
    (void)&ExportResponseBody<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_response_trailers),
                                decltype(&B::on_response_trailers)>) {
    (void)&ExportResponseTrailers<V>::call;
  }
  export_context_callbacks<T, ContextBase>();
}

template <class T>
void export_network_callbacks() {
  using V = DependentVoid<T>;
  using B = NetworkContext;
  if constexpr (!std::is_same_v<decltype(&T::on_new_connection), decltype(&B::on_new_connection)>) {
    (void)&ExportNewConnection<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_downstream_data),
                                decltype(&B::on_downstream_data)>) {
    (void)&ExportDownstreamData<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_upstream_data), decltype(&B::on_upstream_data)>) {
    (void)&ExportUpstreamData<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_downstream_connection_close),
                                decltype(&B::on_downstream_connection_close)>) {
    (void)&ExportDownstreamClose<V>::call;
  }
  if constexpr (!std::is_same_v<decltype(&T::on_upstream_connection_close),
                                decltype(&B::on_upstream_connection_close)>) {
    (void)&ExportUpstreamClose<V>::call;
  }
  export_context_callbacks<T, ContextBase>();
}

}  // namespace sdk

// ---- Registration -----------------------------------------------------------------------

using RootFactory = std::unique_ptr<RootContext> (*)(uint32_t id, std::string_view root_id);
using HttpFactory = std::unique_ptr<HttpContext> (*)(uint32_t id, RootContext* root);
using NetworkFactory = std::unique_ptr<NetworkContext> (*)(uint32_t id, RootContext* root);

template <class T>
std::unique_ptr<RootContext> root_factory(uint32_t id, std::string_view root_id) {
  sdk::export_context_callbacks<T, ContextBase>();
  return std::make_unique<T>(id, root_id);
}
template <class T>
std::unique_ptr<HttpContext> http_factory(uint32_t id, RootContext* root) {
  sdk::export_http_callbacks<T>();
  return std::make_unique<T>(id, root);
}
template <class T>
std::unique_ptr<NetworkContext> network_factory(uint32_t id, RootContext* root) {
  sdk::export_network_callbacks<T>();
  return std::make_unique<T>(id, root);
}

// Registers the contexts for one root_id. Declare as a static object:
//   static weir::RegisterContextFactory reg(weir::root_factory<MyRoot>,
//                                           weir::http_factory<MyHttp>, "my_root_id");
// A null root factory gives a plain RootContext; a null HTTP factory means no HTTP
// contexts (a root-only, background plugin).
//
// Which registration a configured root_id gets: the one registered with that exact
// root_id; otherwise the one registered with "" (a catch-all); otherwise, when the
// configured root_id is empty, the only registration if there is just one. No match: the
// plugin logs a critical message and fails to load (on_vm_start returns false).
class RegisterContextFactory {
 public:
  RegisterContextFactory(RootFactory root, HttpFactory http, std::string_view root_id = "");
  explicit RegisterContextFactory(HttpFactory http, std::string_view root_id = "")
      : RegisterContextFactory(nullptr, http, root_id) {}
};

// The same for a network (L4) plugin: every stream of this root_id is a TCP connection
// through envoy.filters.network.wasm and gets a NetworkContext.
//   static weir::RegisterNetworkContextFactory reg(weir::root_factory<MyRoot>,
//                                                  weir::network_factory<MyConn>, "my_root");
class RegisterNetworkContextFactory {
 public:
  RegisterNetworkContextFactory(RootFactory root, NetworkFactory network,
                                std::string_view root_id = "");
};

}  // namespace weir
