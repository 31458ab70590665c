#pragma once
// The Proxy-Wasm host layer: plugin descriptions, compiled modules with their ABI and
// import bindings, per-thread runtimes, VMs (one Wasm instance each) and their root and
// stream contexts.
//
// Threading: PluginSpec and PluginModule are immutable and shared by every thread. A
// WorkerRuntime, its Vms and their contexts belong to the thread that created them.
//
// Host-call dispatch: each import is bound to a plain function (see host_functions.cc);
// the instance's host_data is the Vm, and the Vm knows the effective context (set around
// every callback, or by proxy_set_effective_context). No globals, no thread_locals.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/proto_struct.h"
#include "common/result.h"
#include "proxy_wasm/plugin_limits.h"
#include "proxy_wasm/stream_host.h"
#include "proxy_wasm/types.h"
#include "proxy_wasm/worker_services.h"
#include "wasm/engine/engine.h"

namespace weir::stats {
class StatsStore;
class Counter;
class Gauge;
class Histogram;
}  // namespace weir::stats

namespace weir::proxy_wasm {

class Vm;
class WorkerRuntime;
class RootContext;
class StreamContext;

// One configured plugin, process-wide and immutable.
struct PluginSpec {
  std::string name;
  std::string root_id;
  std::string vm_id;
  std::string vm_configuration;
  std::string plugin_configuration;
  std::vector<std::string> environment;  // "KEY=VALUE", for WASI environ_get
  FailurePolicy failure_policy = FailurePolicy::FailClosed;
  PluginLimits limits;
  // The `node` and `listener_metadata` properties (nullptr: an empty message).
  std::shared_ptr<const common::NodeInfo> node;
  std::shared_ptr<const common::Metadata> listener_metadata;
};

// A compiled module and what is derived from it once: the ABI version and the binding
// of every function import (known host functions, or stubs for unknown ones).
class PluginModule {
 public:
  // Detects the ABI version and binds the imports. Errors name the plugin.
  static Result<std::shared_ptr<const PluginModule>> create(
      std::shared_ptr<const wasm::CompiledModule> module, std::string_view plugin_name);

  const wasm::CompiledModule& module() const { return *module_; }
  // The module with its imports bound to `bindings()`, linked on first use (once for all
  // threads): what VMs are instantiated from.
  Result<std::shared_ptr<const wasm::LinkedModule>> linked(wasm::Engine& engine) const;
  AbiVersion abi() const { return abi_; }
  const std::vector<wasm::HostBinding>& bindings() const { return bindings_; }
  // Imports bound to a stub ("module.name (why)"), for `--mode validate` and the log.
  const std::vector<std::string>& stubbed_imports() const { return stubbed_; }

  // A stub slot: what an unknown import bound to it answers.
  struct Stub {
    std::string module;
    std::string name;
    int32_t answer = 0;
    mutable std::atomic<bool> logged{false};
  };
  const Stub* stub(size_t slot) const {
    return slot < stubs_.size() ? stubs_[slot].get() : nullptr;
  }

 private:
  std::shared_ptr<const wasm::CompiledModule> module_;
  AbiVersion abi_ = AbiVersion::V0_2_1;
  std::vector<wasm::HostBinding> bindings_;
  std::vector<std::unique_ptr<Stub>> stubs_;
  std::vector<std::string> stubbed_;
  mutable std::mutex link_mutex_;
  mutable std::shared_ptr<const wasm::LinkedModule> linked_;
};

// Per thread (and engine): the VMs of this thread, shared between plugins with the same
// vm_id and code, and the worker they serve.
class WorkerRuntime : public std::enable_shared_from_this<WorkerRuntime> {
 public:
  // The calling thread's runtime for `engine`, created on first use. Kept alive by the
  // returned pointers; destroyed (on this thread) when the last one goes.
  static Result<std::shared_ptr<WorkerRuntime>> for_current_thread(wasm::Engine& engine,
                                                                   stats::StatsStore& stats);
  ~WorkerRuntime();

  wasm::Engine& engine() { return engine_; }
  stats::StatsStore& stats() { return stats_; }

  // The worker this thread serves: its timers and wake-ups (ticks, queues) and its calls
  // to clusters (proxy_http_call). Unset on the main thread's start-up trial and in unit
  // tests: ticks then never fire and calls are accepted but never answered. What they
  // wrap must outlive every VM of this runtime; a later attach replaces both (queues
  // registered before keep the scheduler they were given).
  void attach_worker(std::shared_ptr<WorkerScheduler> scheduler,
                     std::shared_ptr<ClusterCalls> cluster_calls) {
    scheduler_ = std::move(scheduler);
    cluster_calls_ = std::move(cluster_calls);
  }
  WorkerScheduler* scheduler() const { return scheduler_.get(); }
  const std::shared_ptr<WorkerScheduler>& shared_scheduler() const { return scheduler_; }
  ClusterCalls* cluster_calls() const { return cluster_calls_.get(); }

  // A live VM of this thread for `key`, if any.
  std::shared_ptr<Vm> find_vm(const std::string& key);
  void register_vm(const std::string& key, const std::shared_ptr<Vm>& vm);

  WorkerRuntime(wasm::Engine& engine, stats::StatsStore& stats);

 private:
  wasm::Engine& engine_;
  stats::StatsStore& stats_;
  std::unordered_map<std::string, std::weak_ptr<Vm>> vms_;
  std::shared_ptr<WorkerScheduler> scheduler_;
  std::shared_ptr<ClusterCalls> cluster_calls_;
};

// Callbacks the host may call, resolved once per instance.
enum class Callback : uint8_t {
  OnContextCreate,
  OnVmStart,
  OnConfigure,
  OnTick,
  OnDone,
  OnLog,
  OnDelete,
  OnRequestHeaders,
  OnRequestBody,
  OnRequestTrailers,
  OnResponseHeaders,
  OnResponseBody,
  OnResponseTrailers,
  OnHttpCallResponse,
  OnQueueReady,
  OnForeignFunction,
  // Network (TCP) streams.
  OnNewConnection,
  OnDownstreamData,
  OnUpstreamData,
  OnDownstreamConnectionClose,
  OnUpstreamConnectionClose,
  OnRedisCallResponse,  // Higress (0.2.100)
  // gRPC calls and streams.
  OnGrpcReceiveInitialMetadata,
  OnGrpcReceive,
  OnGrpcReceiveTrailingMetadata,
  OnGrpcClose,
  Count
};

class ContextBase {
 public:
  virtual ~ContextBase() = default;
  uint32_t id() const { return id_; }
  Vm& vm() const { return *vm_; }
  // The root context (itself for a root context).
  RootContext* root() const { return root_; }
  bool is_root() const { return reinterpret_cast<const void*>(root_) == this; }
  virtual StreamHost* stream_host() { return nullptr; }
  virtual StreamContext* as_stream() { return nullptr; }
  const PluginSpec& plugin() const;

  // proxy_set_property values, readable back with proxy_get_property. False (nothing
  // stored) past kMaxPropertyBytes of paths and values in this context: a root context
  // lives as long as its VM, and a plugin must not grow the host without bound.
  bool set_property(std::string_view path, std::string_view value);
  static constexpr size_t kMaxPropertyBytes = 1024 * 1024;
  static constexpr size_t kPropertyOverheadBytes = 64;
  const std::string* find_property(std::string_view path) const;

 protected:
  ContextBase(Vm* vm, RootContext* root, uint32_t id) : vm_(vm), root_(root), id_(id) {}
  Vm* vm_;
  RootContext* root_;
  uint32_t id_;
  std::vector<std::pair<std::string, std::string>> properties_;
  size_t property_bytes_ = 0;  // paths, values and kPropertyOverheadBytes each
};

class RootContext : public ContextBase {
 public:
  RootContext(Vm* vm, uint32_t id, std::shared_ptr<const PluginSpec> plugin);
  ~RootContext() override;
  const PluginSpec& spec() const { return *plugin_; }
  const std::shared_ptr<const PluginSpec>& spec_ptr() const { return plugin_; }
  uint32_t tick_period_ms() const { return tick_period_ms_; }
  // (Re)arms the tick timer on the worker's loop (0 stops it). The first tick comes one
  // period after the call, as in Envoy.
  void set_tick_period_ms(uint32_t ms);
  // Calls proxy_on_tick. False if the VM died.
  bool on_tick();
  // proxy_on_done / proxy_on_delete when the plugin goes away (worker shutdown). A root
  // that answers false from on_done may call proxy_done() later; weir does not wait.
  void stop();
  bool done_pending = false;

 private:
  void arm_tick_timer();

  std::shared_ptr<const PluginSpec> plugin_;
  uint32_t tick_period_ms_ = 0;
  uint64_t tick_timer_ = 0;
  bool stopped_ = false;
};

// One HTTP stream's context in one VM. Construct, then create(); the callbacks return the
// interpreted Action. finish() (on_done, on_log, on_delete) runs exactly once, also from
// the destructor if the owner did not call it.
class StreamContext : public ContextBase {
 public:
  StreamContext(std::shared_ptr<Vm> vm, RootContext* root, StreamHost* host);
  ~StreamContext() override;
  StreamContext(const StreamContext&) = delete;
  StreamContext& operator=(const StreamContext&) = delete;

  // proxy_on_context_create(id, root). False if the VM died.
  bool create();
  Action on_request_headers(uint32_t headers, bool end_stream);
  Action on_request_body(uint32_t body_size, bool end_stream);
  Action on_request_trailers(uint32_t trailers);
  Action on_response_headers(uint32_t headers, bool end_stream);
  Action on_response_body(uint32_t body_size, bool end_stream);
  Action on_response_trailers(uint32_t trailers);
  // Network streams (a NetworkStreamHost): Continue, Pause (any non-zero answer: the
  // host holds the bytes until proxy_continue_stream) or Failed.
  Action on_new_connection();
  Action on_downstream_data(uint32_t data_size, bool end_stream);
  Action on_upstream_data(uint32_t data_size, bool end_stream);
  void on_downstream_connection_close(PeerType peer);
  void on_upstream_connection_close(PeerType peer);
  // proxy_on_done, proxy_on_log, proxy_on_delete — once (skipped if never created or the
  // VM is dead).
  void finish();

  StreamHost* stream_host() override { return host_; }
  StreamContext* as_stream() override { return this; }
  bool created() const { return created_; }
  bool in_log_phase() const { return in_log_; }
  // Set by proxy_send_local_response during a callback.
  void mark_local_reply() { local_reply_ = true; }
  const std::shared_ptr<Vm>& vm_ptr() const { return vm_owner_; }

 private:
  Action headers_like(Callback cb, uint32_t n, bool eos, bool has_eos);
  Action body_like(Callback cb, uint32_t size, bool eos);
  Action trailers_like(Callback cb, uint32_t n);
  Action network_call(Callback cb, std::initializer_list<int32_t> args);

  std::shared_ptr<Vm> vm_owner_;
  StreamHost* host_;
  bool created_ = false;
  bool finished_ = false;
  bool in_log_ = false;
  bool local_reply_ = false;
};

struct MetricSlot {
  MetricType type;
  void* stat;  // stats::Counter / Gauge / Histogram
};

// One Wasm instance of a module on one thread, with its contexts.
class Vm : public std::enable_shared_from_this<Vm> {
 public:
  // Instantiates the module (running its start section) and its start-up functions
  // (_initialize then main, or _start). `key` identifies it in the worker registry.
  static Result<std::shared_ptr<Vm>> create(const std::shared_ptr<WorkerRuntime>& rt,
                                            const std::shared_ptr<const PluginModule>& module,
                                            const std::shared_ptr<const PluginSpec>& first_plugin);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // Creates the plugin's root context: proxy_on_context_create(root, 0),
  // proxy_on_vm_start, proxy_on_configure. Errors name the failing step.
  Result<RootContext*> start_plugin(const std::shared_ptr<const PluginSpec>& plugin);

  bool alive() const { return alive_; }
  const std::string& failure() const { return failure_; }
  AbiVersion abi() const { return module_->abi(); }
  const PluginModule& plugin_module() const { return *module_; }
  const PluginSpec& first_plugin() const { return *first_plugin_; }
  WorkerRuntime& runtime() { return *rt_; }
  wasm::Instance* instance() { return instance_.get(); }
  bool exports(Callback cb) const { return callbacks_[static_cast<size_t>(cb)].fn != nullptr; }

  // Calls a callback with `ctx` as the effective context. nullopt if the callback is not
  // exported (and *missing = true) or the call failed (the VM is then dead).
  std::optional<int32_t> call(ContextBase* ctx, Callback cb, std::initializer_list<int32_t> args,
                              bool* missing = nullptr);

  // Marks the VM dead (trap, proc_exit, deadline) and logs why, once.
  void fail(std::string_view why);

  // ---- for host functions ----
  ContextBase* effective_context() const { return effective_; }
  void set_effective_context(ContextBase* c) { effective_ = c; }
  ContextBase* find_context(uint32_t id) const;
  // The instance making the current host call (also during instantiation).
  void enter_host_call(wasm::Instance& inst) { host_instance_ = &inst; }
  std::span<uint8_t> memory() {
    return host_instance_ ? host_instance_->memory() : std::span<uint8_t>{};
  }
  // Bounds-checked access to the current memory (64-bit arithmetic: ptr + size never
  // wraps). Views are valid until the next call into Wasm: a host function never keeps
  // one across allocate() / copy_out().
  std::optional<std::string_view> slice(uint32_t ptr, uint32_t size);
  bool in_bounds(uint32_t ptr, uint64_t size);
  bool write_u32(uint32_t ptr, uint32_t v);
  bool write_u64(uint32_t ptr, uint64_t v);
  bool write_bytes(uint32_t ptr, const void* data, size_t size);

  // What one host call returns, in host memory only that call owns while the plugin's
  // allocator runs. The allocator is guest code: it may make host calls itself (each
  // takes its own buffer; leases nest), change or free the very data the outer call is
  // returning (a header, a body, shared data, a property), grow memory or switch the
  // effective context. So a host function serializes its answer here first, then
  // copy_out() allocates and copies from here, never from a view into host state.
  class OutBuffer {
   public:
    explicit OutBuffer(Vm& vm);
    ~OutBuffer();
    OutBuffer(const OutBuffer&) = delete;
    OutBuffer& operator=(const OutBuffer&) = delete;
    std::string& str() { return *buffer_; }
    std::string_view view() const { return *buffer_; }

   private:
    Vm& vm_;
    std::string* buffer_;
  };

  // Calls the plugin's allocator with the effective context of the host call (restored
  // afterwards, whatever the allocator did with proxy_set_effective_context). nullopt
  // with *why set if it failed: INVALID_MEMORY_ACCESS (no allocator, it returned 0 or a
  // block outside the memory as it is after the call, or it trapped: then alive() is
  // false), INTERNAL_FAILURE (allocations nested kMaxNestedAllocations deep: an
  // allocator that keeps re-entering the host).
  std::optional<uint32_t> allocate(uint32_t size, WasmResult* why = nullptr);
  static constexpr int kMaxNestedAllocations = 8;
  // Allocates, copies `data` in and writes the pointer and size to the out-pointers (size
  // 0: pointer 0, no allocation). The out-pointers are checked before the allocator runs
  // and written after the data; the block is checked against the memory as the
  // allocator left it.
  WasmResult copy_out(const OutBuffer& data, uint32_t ptr_ptr, uint32_t size_ptr);

  // The configuration a 0.1.0 proxy_get_configuration returns now.
  const std::string* current_configuration = nullptr;

  // Metrics (ids are indexes; resolved to stats pointers here, so the request path
  // takes no lock). BAD_ARGUMENT (logged once per name) for a name of weir's own stats or
  // under its reserved prefixes (is_reserved_metric_name), a name another plugin (or this
  // one) defined with another type, an empty name or one past kMaxMetricNameBytes, and
  // past kMaxMetricNamesPerVm names: every defined name stays in the store for good.
  WasmResult define_metric(MetricType type, std::string_view name, uint32_t* id);
  static constexpr size_t kMaxMetricNamesPerVm = 10000;
  static constexpr size_t kMaxMetricNameBytes = 1024;
  MetricSlot* metric(uint32_t id) {
    return id >= 1 && id <= metrics_.size() ? &metrics_[id - 1] : nullptr;
  }

  // WASI stdout/stderr: bytes of the line being written, at most max_log_line_bytes;
  // a longer line is logged cut (and the rest of it skipped up to its newline).
  struct LineBuffer {
    std::string line;
    bool cut = false;  // logged already; skipping to the end of the line
  };
  LineBuffer stdout_line;
  LineBuffer stderr_line;
  // Appends what a plugin wrote to fd 1 or 2, logging each complete line.
  void write_output(LineBuffer& out, LogLevel level, std::string_view data);

  // Logs a plugin message as "wasm log <plugin> <root_id>: msg", cut to the plugin's
  // max_log_line_bytes with a "...[truncated]" marker.
  void plugin_log(LogLevel level, std::string_view msg);
  // Whether a plugin message at `level` is logged at the configured level.
  static bool logs_at(LogLevel level);

  // Counts one refusal of a host-side resource bound, as wasm.plugin.<name>.<what> of
  // the effective context's plugin (created on first use: a plugin within its bounds adds
  // no stats). Not on any per-request path of a well-behaved plugin.
  enum class Refusal : uint8_t {
    HttpCallsOutstanding,
    HttpCallResponseTooLarge,
    SharedQueueFull,
    SharedDataFull,
    LogLineTruncated,
    MetricName,
    Count
  };
  void count_refusal(Refusal what, const PluginSpec* plugin = nullptr);

  // ---- asynchronous work (proxy_http_call, queues)
  // Sends the call for `root` (calls belong to the root context, as in Envoy) and writes
  // its token. BAD_ARGUMENT for an unknown cluster.
  WasmResult http_call(RootContext& root, std::string_view cluster, http::HeaderMap headers,
                       std::string body, std::optional<http::HeaderMap> trailers,
                       std::chrono::milliseconds timeout, uint32_t* token);
  // The answer being delivered (during proxy_on_http_call_response only), else nullptr.
  ClusterResponse* http_call_response() const { return http_call_response_; }
  // Higress (0.2.100): proxy_redis_init keeps the credentials, database and timeout for
  // `cluster` ("name" or "name?db=N"; calls then name it "name"); proxy_redis_call sends a RESP
  // command with them, answered in proxy_on_redis_call_response(root, token, status, reply_size).
  // Calls count against max_outstanding_calls with the HTTP calls; replies are bounded by
  // max_call_response_bytes.
  WasmResult redis_init(std::string_view cluster, std::string_view username,
                        std::string_view password, std::chrono::milliseconds timeout);
  WasmResult redis_call(RootContext& root, std::string_view cluster, std::string query,
                        uint32_t* token);
  // The reply being delivered (during proxy_on_redis_call_response only), else nullptr.
  std::string* redis_call_response() const { return redis_call_response_; }
  // proxy_on_queue_ready(root, token), on the owner's thread.
  void on_queue_ready(uint32_t root_context_id, uint32_t token);

  // gRPC (host_grpc.cc), as Envoy runs them: calls get odd tokens, streams even ones, in
  // the token space and under the bound (max_outstanding_calls) of HTTP calls; answers go
  // to the root context that made the call. A unary call ends in exactly one callback:
  // proxy_on_grpc_receive with the message when the status is OK, else
  // proxy_on_grpc_close(status) (proxy_get_status gives the message). A stream delivers
  // initial metadata, messages, trailing metadata and close as they come; its token stays
  // valid after the remote close until the plugin closes or cancels it (as in Envoy, so
  // SDKs that close in their close callback get OK). `unknown_cluster` is what to answer
  // when the cluster is not configured.
  WasmResult grpc_call(RootContext& root, GrpcRequest request, std::string message,
                       WasmResult unknown_cluster, uint32_t* token);
  WasmResult grpc_stream(RootContext& root, GrpcRequest request, WasmResult unknown_cluster,
                         uint32_t* token);
  // NOT_FOUND for an unknown token, BAD_ARGUMENT for a call's token or a stream the plugin
  // closed for sending; OK (and nothing sent) once the other side has closed.
  WasmResult grpc_send(uint32_t token, std::string_view message, bool end_stream);
  // Resets a call or stream: no callback for it runs afterwards. NOT_FOUND if unknown.
  WasmResult grpc_cancel(uint32_t token);
  // A call: as cancel. A stream: half-closes it; answers keep coming until the other side
  // closes. NOT_FOUND if unknown.
  WasmResult grpc_close(uint32_t token);
  bool has_cluster(std::string_view cluster) const {
    ClusterCalls* calls = rt_->cluster_calls();
    return !calls || calls->has_cluster(cluster);
  }
  // What the gRPC callback being delivered exposes (else nullptr): metadata maps
  // (GrpcReceiveInitialMetadata / GrpcReceiveTrailingMetadata; for a unary call both, during
  // its callback, a weir addition), the message (GrpcReceiveBuffer) and, during
  // proxy_on_grpc_close, the status for proxy_get_status.
  http::HeaderMap* grpc_metadata(bool initial) const {
    return initial ? grpc_initial_metadata_ : grpc_trailing_metadata_;
  }
  std::string* grpc_message() const { return grpc_message_; }
  struct GrpcStatus {
    uint32_t code = 0;
    std::string_view message;
  };
  const GrpcStatus* grpc_status() const { return grpc_status_; }

  // Runs `action` once no call into this VM is in progress: now if none is, else right
  // after the outermost call returns. Stream actions a plugin asks for from outside its
  // own stream callback (continue, local reply, close from an http call answer or a
  // queue callback) go through here, as Envoy does (proxy-wasm-cpp-host's after-VM-call
  // actions): SDKs hold their context tables borrowed during a callback, so re-entering
  // the VM underneath it (e.g. the local reply's response path) would make them fail.
  void run_after_call(std::function<void()> action);

  uint32_t next_context_id() { return next_context_id_++; }
  void register_context(ContextBase* c);
  void unregister_context(uint32_t id);

  Vm(std::shared_ptr<WorkerRuntime> rt, std::shared_ptr<const PluginModule> module,
     std::shared_ptr<const PluginSpec> first_plugin);

 private:
  // Calls into Wasm; the outermost call then runs the queued after-call actions.
  bool invoke(wasm::ExportedFunction& fn, std::span<const wasm::Value> args, wasm::Value* result,
              const char* what);
  // Runs `enter` (one call into the instance) as an outermost or nested call: failure
  // reporting, and the actions deferred until the outermost call returns.
  template <typename Enter>
  bool invoke(Enter&& enter, const char* what);
  template <typename Enter>
  bool invoke_once(Enter& enter, const char* what);
  void report_call_failure(const char* what);
  // The callbacks the plugin exports; an error if one has a type no Proxy-Wasm callback has.
  Status resolve_exports();
  void log_line(LogLevel level, std::string_view msg, bool cut);

  std::shared_ptr<WorkerRuntime> rt_;
  std::shared_ptr<const PluginModule> module_;
  std::shared_ptr<const PluginSpec> first_plugin_;
  std::unique_ptr<wasm::Instance> instance_;
  wasm::Instance* host_instance_ = nullptr;
  // A callback resolved once per instance, with its parameter types, so that a call
  // builds its arguments without looking at the function's type.
  static constexpr size_t kMaxCallbackParams = wasm::Instance::kMaxIntegerSlots;
  struct CallbackSlot {
    wasm::ExportedFunction* fn = nullptr;
    uint8_t params = 0;
    std::array<wasm::ValType, kMaxCallbackParams> types{};
    bool has_result = false;
    bool i64_result = false;
  };
  std::array<CallbackSlot, static_cast<size_t>(Callback::Count)> callbacks_{};
  wasm::ExportedFunction* allocator_ = nullptr;
  bool allocator_resolved_ = false;
  bool alive_ = true;
  std::string failure_;
  wasm::CallResult call_failure_;  // the last failed call's, until it is reported
  int depth_ = 0;
  ContextBase* effective_ = nullptr;
  uint32_t next_context_id_ = 1;
  // Live contexts sorted by id. Ids only grow, so registering a stream's context appends
  // and its removal is a binary search: no allocation per request, unlike a hash map.
  std::vector<std::pair<uint32_t, ContextBase*>> contexts_;
  std::vector<std::unique_ptr<RootContext>> roots_;
  void on_http_call_done(uint32_t token, ClusterResponse& response);

  // HTTP, Redis and gRPC calls in flight, by token: one token space and one bound
  // (max_outstanding_calls) for all.
  enum class CallKind : uint8_t { Http, Redis, GrpcCall, GrpcStream };
  // A unary gRPC call's answer, gathered until its status arrives.
  struct GrpcAnswer {
    http::HeaderMap initial_metadata;
    http::HeaderMap trailing_metadata;
    std::string message;
    bool has_message = false;
  };
  struct PendingCall {
    uint64_t request_id;  // ClusterCalls' (0: none, or released after a remote close)
    uint32_t root_context_id;
    CallKind kind = CallKind::Http;
    bool local_closed = false;   // gRPC stream: the plugin half-closed it
    bool remote_closed = false;  // gRPC stream: over; the token waits for the plugin's close
    std::unique_ptr<GrpcAnswer> answer;  // unary gRPC call
  };
  std::unordered_map<uint32_t, PendingCall> calls_;
  uint32_t next_call_token_ = 1;
  // Takes a token and dispatches through `dispatch(ClusterCalls&, token)` (which answers
  // ClusterCalls' request id, 0 for an unknown cluster: then `unknown_cluster`), or refuses
  // past the bound.
  using Dispatch = std::function<uint64_t(ClusterCalls& calls, uint32_t token)>;
  WasmResult start_call(RootContext& root, CallKind kind, WasmResult unknown_cluster,
                        uint32_t* token, const Dispatch& dispatch);
  GrpcEvents grpc_events(uint32_t token);
  void on_grpc_initial_metadata(uint32_t token, http::HeaderMap& metadata);
  void on_grpc_message(uint32_t token, std::string& message);
  void on_grpc_trailing_metadata(uint32_t token, http::HeaderMap& metadata);
  void on_grpc_close(uint32_t token, uint32_t status, std::string_view message);
  // Calls a gRPC callback on the call's root context, if it and the VM are alive.
  void grpc_callback(uint32_t root_id, Callback cb, uint32_t token, uint32_t n);
  http::HeaderMap* grpc_initial_metadata_ = nullptr;
  http::HeaderMap* grpc_trailing_metadata_ = nullptr;
  std::string* grpc_message_ = nullptr;
  const GrpcStatus* grpc_status_ = nullptr;
  // A finished call's root context (and its id), no longer in flight; nullptr if the
  // call, the context or the VM is gone.
  ContextBase* finish_call(uint32_t token, uint32_t* root_id);
  // Higress Redis calls, in calls_ beside the HTTP calls.
  void on_redis_call_done(uint32_t token, ClusterResponse& response);
  struct RedisClusterSettings {
    std::string cluster;  // without "?db=N"
    uint32_t database = 0;
    std::string username, password;
    std::chrono::milliseconds timeout{0};
  };
  std::unordered_map<std::string, RedisClusterSettings> redis_clusters_;  // by cluster
  std::string* redis_call_response_ = nullptr;
  ClusterResponse* http_call_response_ = nullptr;
  std::vector<std::function<void()>> after_call_;
  std::vector<MetricSlot> metrics_;
  std::unordered_map<std::string, uint32_t> metric_ids_;  // "<type>:<name>" -> id, 0: refused
  bool metric_limit_logged_ = false;
  bool counted_ = false;               // in the runtime's created/active stats
  int64_t reported_memory_bytes_ = 0;  // what memory_bytes holds for this VM
  // OutBuffer leases: the first out_buffers_in_use_ are held by host calls in progress.
  std::vector<std::unique_ptr<std::string>> out_buffers_;
  size_t out_buffers_in_use_ = 0;
  int allocation_depth_ = 0;
};

// Per plugin per worker: the VM and root context streams use, and the failure policy.
class WorkerPlugin {
 public:
  // Gets (or creates) this thread's VM for the plugin's vm_id and starts the plugin in it.
  static Result<std::shared_ptr<WorkerPlugin>> create(std::shared_ptr<const PluginSpec> spec,
                                                      std::shared_ptr<const PluginModule> module,
                                                      std::shared_ptr<WorkerRuntime> rt);

  enum class Decision { Use, FailClosed, Skip };
  // For a new stream: Use (vm/root set), or what the failure policy says when the VM is
  // dead (FAIL_RELOAD tries a new instance, with backoff; FailClosed meanwhile).
  Decision acquire(std::shared_ptr<Vm>& vm, RootContext*& root);
  const PluginSpec& spec() const { return *spec_; }
  const std::shared_ptr<Vm>& vm() const { return vm_; }
  // Policy for a stream whose callback just failed.
  FailurePolicy failure_policy() const { return spec_->failure_policy; }

  WorkerPlugin(std::shared_ptr<const PluginSpec> spec, std::shared_ptr<const PluginModule> module,
               std::shared_ptr<WorkerRuntime> rt);
  // Stops the root context (proxy_on_done, proxy_on_delete) on the owning thread.
  ~WorkerPlugin();
  RootContext* root() const { return root_; }

 private:
  Status start();
  std::string vm_key() const;

  std::shared_ptr<const PluginSpec> spec_;
  std::shared_ptr<const PluginModule> module_;
  std::shared_ptr<WorkerRuntime> rt_;
  std::shared_ptr<Vm> vm_;
  RootContext* root_ = nullptr;
  std::chrono::steady_clock::time_point next_reload_{};
  std::chrono::steady_clock::time_point last_reload_{};
  std::chrono::milliseconds backoff_ = kReloadBackoffInitial;
};

// Whether a plugin may not define a metric of that name: the name's first dot-separated
// part is one of weir's (or Envoy's) stat namespaces (cluster, http, listener, server, wasm,
// runtime, ...), or Prometheus output would render it with the envoy_ prefix of weir's own
// stats ("envoy.x", "envoy_x").
bool is_reserved_metric_name(std::string_view name);

// Reads the ABI version a module declares.
Result<AbiVersion> detect_abi_version(const wasm::CompiledModule& module);

// Compiles `bytes`, sharing the compiled module between plugins with identical code.
Result<std::shared_ptr<const wasm::CompiledModule>> compile_shared(wasm::Engine& engine,
                                                                   std::string_view bytes);

}  // namespace weir::proxy_wasm
