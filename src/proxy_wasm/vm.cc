#include "proxy_wasm/vm.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/log_level.h"
#include "proxy_wasm/shared_state.h"
#include "proxy_wasm/stream_host.h"
#include "stats/stats_store.h"
#include "wasm/engine/function_type.h"

namespace weir::proxy_wasm {

namespace {

constexpr std::array<std::string_view, static_cast<size_t>(Callback::Count)> kCallbackNames = {
    "proxy_on_context_create",
    "proxy_on_vm_start",
    "proxy_on_configure",
    "proxy_on_tick",
    "proxy_on_done",
    "proxy_on_log",
    "proxy_on_delete",
    "proxy_on_request_headers",
    "proxy_on_request_body",
    "proxy_on_request_trailers",
    "proxy_on_response_headers",
    "proxy_on_response_body",
    "proxy_on_response_trailers",
    "proxy_on_http_call_response",
    "proxy_on_queue_ready",
    "proxy_on_foreign_function",
    "proxy_on_new_connection",
    "proxy_on_downstream_data",
    "proxy_on_upstream_data",
    "proxy_on_downstream_connection_close",
    "proxy_on_upstream_connection_close",
    "proxy_on_redis_call_response",
    "proxy_on_grpc_receive_initial_metadata",
    "proxy_on_grpc_receive",
    "proxy_on_grpc_receive_trailing_metadata",
    "proxy_on_grpc_close",
};

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::Trace:
      return spdlog::level::trace;
    case LogLevel::Debug:
      return spdlog::level::debug;
    case LogLevel::Info:
      return spdlog::level::info;
    case LogLevel::Warn:
      return spdlog::level::warn;
    case LogLevel::Error:
      return spdlog::level::err;
    case LogLevel::Critical:
      return spdlog::level::critical;
  }
  return spdlog::level::info;
}

}  // namespace

std::string_view abi_version_name(AbiVersion v) {
  switch (v) {
    case AbiVersion::V0_1_0:
      return "0.1.0";
    case AbiVersion::V0_2_0:
      return "0.2.0";
    case AbiVersion::V0_2_1:
      return "0.2.1";
    case AbiVersion::V0_2_100:
      return "0.2.100 (Higress)";
  }
  return "?";
}

// ---------------------------------------------------------------- PluginModule

Result<std::shared_ptr<const wasm::LinkedModule>> PluginModule::linked(wasm::Engine& engine) const {
  std::lock_guard lock(link_mutex_);
  if (!linked_) {
    auto made = engine.link(module_, bindings_);
    if (!made) return Error{made.error()};
    linked_ = std::move(*made);
  }
  return linked_;
}

// ---------------------------------------------------------------- contexts

const PluginSpec& ContextBase::plugin() const { return root_->spec(); }

bool ContextBase::set_property(std::string_view path, std::string_view value) {
  for (auto& [k, v] : properties_) {
    if (k == path) {
      if (property_bytes_ - v.size() + value.size() > kMaxPropertyBytes) return false;
      property_bytes_ = property_bytes_ - v.size() + value.size();
      v.assign(value);
      return true;
    }
  }
  const size_t cost = path.size() + value.size() + kPropertyOverheadBytes;
  if (property_bytes_ + cost > kMaxPropertyBytes) return false;
  property_bytes_ += cost;
  properties_.emplace_back(std::string(path), std::string(value));
  return true;
}

const std::string* ContextBase::find_property(std::string_view path) const {
  for (const auto& [k, v] : properties_) {
    if (k == path) return &v;
  }
  return nullptr;
}

RootContext::RootContext(Vm* vm, uint32_t id, std::shared_ptr<const PluginSpec> plugin)
    : ContextBase(vm, this, id), plugin_(std::move(plugin)) {}

RootContext::~RootContext() {
  if (tick_timer_) {
    if (WorkerScheduler* scheduler = vm_->runtime().scheduler()) {
      scheduler->cancel_timer(tick_timer_);
    }
  }
}

void RootContext::set_tick_period_ms(uint32_t ms) {
  tick_period_ms_ = ms;
  WorkerScheduler* scheduler = vm_->runtime().scheduler();
  if (!scheduler) return;  // start-up trial or unit test: no ticks
  if (tick_timer_) scheduler->cancel_timer(tick_timer_);
  tick_timer_ = 0;
  if (ms > 0 && !stopped_) arm_tick_timer();
}

void RootContext::arm_tick_timer() {
  tick_timer_ =
      vm_->runtime().scheduler()->add_timer(std::chrono::milliseconds(tick_period_ms_), [this] {
        tick_timer_ = 0;
        if (!vm_->alive() || stopped_) return;
        on_tick();
        // on_tick may have set a new period (and armed the timer) or stopped the ticks.
        if (tick_timer_ == 0 && tick_period_ms_ > 0 && vm_->alive() && !stopped_) arm_tick_timer();
      });
}

bool RootContext::on_tick() {
  bool missing = false;
  auto r = vm_->call(this, Callback::OnTick, {static_cast<int32_t>(id_)}, &missing);
  return r.has_value() || missing;
}

void RootContext::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (tick_timer_) {
    if (WorkerScheduler* scheduler = vm_->runtime().scheduler()) {
      scheduler->cancel_timer(tick_timer_);
    }
    tick_timer_ = 0;
  }
  if (!vm_->alive()) return;
  const int32_t id = static_cast<int32_t>(id_);
  bool missing = false;
  auto r = vm_->call(this, Callback::OnDone, {id}, &missing);
  if (r && *r == 0) done_pending = true;
  if (vm_->alive()) (void)vm_->call(this, Callback::OnDelete, {id});
}

StreamContext::StreamContext(std::shared_ptr<Vm> vm, RootContext* root, StreamHost* host)
    : ContextBase(vm.get(), root, vm->next_context_id()), vm_owner_(std::move(vm)), host_(host) {
  vm_->register_context(this);
}

StreamContext::~StreamContext() { finish(); }

bool StreamContext::create() {
  if (!vm_->alive()) return false;
  bool missing = false;
  auto r = vm_->call(this, Callback::OnContextCreate,
                     {static_cast<int32_t>(id_), static_cast<int32_t>(root_->id())}, &missing);
  if (!r && !missing) return false;
  created_ = true;
  return true;
}

Action StreamContext::headers_like(Callback cb, uint32_t n, bool eos, bool /*has_eos*/) {
  if (!vm_->alive()) return Action::Failed;
  local_reply_ = false;
  bool missing = false;
  auto r = vm_->call(this, cb, {static_cast<int32_t>(id_), static_cast<int32_t>(n), eos ? 1 : 0},
                     &missing);
  if (missing) return Action::Continue;
  if (!r) return Action::Failed;
  if (local_reply_) return Action::LocalReply;
  uint32_t v = static_cast<uint32_t>(*r);
  // 0 CONTINUE; 2 ends up as CONTINUE in Envoy; 1 StopIteration; 3, 4 and above stop all.
  if (v == 0 || v == 2) return Action::Continue;
  return v == 1 ? Action::Pause : Action::StopAll;
}

Action StreamContext::body_like(Callback cb, uint32_t size, bool eos) {
  if (!vm_->alive()) return Action::Failed;
  local_reply_ = false;
  bool missing = false;
  auto r = vm_->call(this, cb, {static_cast<int32_t>(id_), static_cast<int32_t>(size), eos ? 1 : 0},
                     &missing);
  if (missing) return Action::Continue;
  if (!r) return Action::Failed;
  if (local_reply_) return Action::LocalReply;
  uint32_t v = static_cast<uint32_t>(*r);
  if (v == 0) return Action::Continue;
  if (v == 1 || v == 2) return Action::Buffer;
  return Action::StopNoBuffer;
}

Action StreamContext::trailers_like(Callback cb, uint32_t n) {
  if (!vm_->alive()) return Action::Failed;
  local_reply_ = false;
  bool missing = false;
  auto r = vm_->call(this, cb, {static_cast<int32_t>(id_), static_cast<int32_t>(n)}, &missing);
  if (missing) return Action::Continue;
  if (!r) return Action::Failed;
  if (local_reply_) return Action::LocalReply;
  return *r == 0 ? Action::Continue : Action::Pause;
}

Action StreamContext::on_request_headers(uint32_t n, bool eos) {
  return headers_like(Callback::OnRequestHeaders, n, eos, true);
}
Action StreamContext::on_request_body(uint32_t size, bool eos) {
  return body_like(Callback::OnRequestBody, size, eos);
}
Action StreamContext::on_request_trailers(uint32_t n) {
  return trailers_like(Callback::OnRequestTrailers, n);
}
Action StreamContext::on_response_headers(uint32_t n, bool eos) {
  return headers_like(Callback::OnResponseHeaders, n, eos, true);
}
Action StreamContext::on_response_body(uint32_t size, bool eos) {
  return body_like(Callback::OnResponseBody, size, eos);
}
Action StreamContext::on_response_trailers(uint32_t n) {
  return trailers_like(Callback::OnResponseTrailers, n);
}

Action StreamContext::network_call(Callback cb, std::initializer_list<int32_t> args) {
  if (!vm_->alive()) return Action::Failed;
  bool missing = false;
  auto r = vm_->call(this, cb, args, &missing);
  if (missing) return Action::Continue;
  if (!r) return Action::Failed;
  // Envoy's Network::FilterStatus: 0 Continue, anything else StopIteration.
  return *r == 0 ? Action::Continue : Action::Pause;
}

Action StreamContext::on_new_connection() {
  return network_call(Callback::OnNewConnection, {static_cast<int32_t>(id_)});
}
Action StreamContext::on_downstream_data(uint32_t size, bool eos) {
  return network_call(Callback::OnDownstreamData,
                      {static_cast<int32_t>(id_), static_cast<int32_t>(size), eos ? 1 : 0});
}
Action StreamContext::on_upstream_data(uint32_t size, bool eos) {
  return network_call(Callback::OnUpstreamData,
                      {static_cast<int32_t>(id_), static_cast<int32_t>(size), eos ? 1 : 0});
}
void StreamContext::on_downstream_connection_close(PeerType peer) {
  if (!vm_->alive()) return;
  (void)vm_->call(this, Callback::OnDownstreamConnectionClose,
                  {static_cast<int32_t>(id_), static_cast<int32_t>(peer)});
}
void StreamContext::on_upstream_connection_close(PeerType peer) {
  if (!vm_->alive()) return;
  (void)vm_->call(this, Callback::OnUpstreamConnectionClose,
                  {static_cast<int32_t>(id_), static_cast<int32_t>(peer)});
}

void StreamContext::finish() {
  if (finished_) return;
  finished_ = true;
  if (created_ && vm_->alive()) {
    const int32_t id = static_cast<int32_t>(id_);
    // A stream context's on_done answer is not waited for (as in Envoy).
    (void)vm_->call(this, Callback::OnDone, {id});
    if (vm_->alive()) {
      in_log_ = true;
      (void)vm_->call(this, Callback::OnLog, {id});
      in_log_ = false;
    }
    if (vm_->alive()) (void)vm_->call(this, Callback::OnDelete, {id});
  }
  vm_->unregister_context(id_);
  if (vm_->effective_context() == this) vm_->set_effective_context(nullptr);
}

// ---------------------------------------------------------------- Vm

Vm::Vm(std::shared_ptr<WorkerRuntime> rt, std::shared_ptr<const PluginModule> module,
       std::shared_ptr<const PluginSpec> first_plugin)
    : rt_(std::move(rt)), module_(std::move(module)), first_plugin_(std::move(first_plugin)) {}

namespace {
// Engine-wide VM stats, Envoy's names with weir's engine: wasm.envoy.wasm.runtime.<engine>.*
constexpr std::string_view kRuntimeStatPrefix = "wasm.envoy.wasm.runtime.wasmtime.";
std::string runtime_stat(std::string_view name) {
  return std::string(kRuntimeStatPrefix) + std::string(name);
}
}  // namespace

Vm::~Vm() {
  if (counted_) {
    rt_->stats().gauge(runtime_stat("active")).sub(1);
    rt_->stats().gauge(runtime_stat("memory_bytes")).sub(reported_memory_bytes_);
  }
  // Nothing may call back into this VM once it is gone.
  if (ClusterCalls* calls = rt_->cluster_calls()) {
    for (const auto& [token, call] : calls_) {
      if (call.request_id != 0) calls->cancel(call.request_id);
    }
  }
  calls_.clear();
  SharedQueues::instance().forget_owner(this);
  contexts_.clear();
  roots_.clear();
  instance_.reset();
}

Result<std::shared_ptr<Vm>> Vm::create(const std::shared_ptr<WorkerRuntime>& rt,
                                       const std::shared_ptr<const PluginModule>& module,
                                       const std::shared_ptr<const PluginSpec>& first_plugin) {
  auto linked = module->linked(rt->engine());
  if (!linked) return Error{"linking the module failed: " + linked.error()};
  auto vm = std::make_shared<Vm>(rt, module, first_plugin);
  // The deadline and the memory cap hold from the start function on, inside every call.
  wasm::InstanceLimits limits;
  limits.call_deadline = first_plugin->limits.call_deadline;
  limits.max_memory_bytes = first_plugin->limits.max_memory_bytes;
  auto inst = (*linked)->instantiate(vm.get(), limits);
  if (!inst.ok()) {
    std::string why = vm->failure_.empty() ? inst.error() : vm->failure_;
    return Error{"instantiating the module failed: " + why};
  }
  if (!vm->alive_) return Error{"instantiating the module failed: " + vm->failure_};
  vm->instance_ = std::move(inst.value());
  vm->host_instance_ = vm->instance_.get();
  stats::StatsStore& stats = rt->stats();
  stats.counter(runtime_stat("created")).inc();
  stats.gauge(runtime_stat("active")).add(1);
  vm->reported_memory_bytes_ = static_cast<int64_t>(vm->instance_->memory().size());
  stats.gauge(runtime_stat("memory_bytes")).add(vm->reported_memory_bytes_);
  vm->counted_ = true;
  if (Status resolved = vm->resolve_exports(); !resolved) return Error{resolved.error()};

  auto run = [&](const char* name) -> Status {
    wasm::ExportedFunction* f = vm->instance_->function(name);
    if (!f) return Ok{};
    std::array<wasm::Value, 4> args{};
    size_t n = std::min<size_t>(f->type().params.size(), args.size());
    for (size_t i = 0; i < n; ++i) {
      args[i].type = f->type().params[i];
      args[i].i64 = 0;
    }
    if (!vm->invoke(*f, std::span(args.data(), n), nullptr, name)) {
      return Error{std::string(name) + " failed: " + vm->failure_};
    }
    return Ok{};
  };
  if (module->module().exports_function("_initialize")) {
    if (auto s = run("_initialize"); !s) return Error{s.error()};
    if (auto s = run("main"); !s) return Error{s.error()};
  } else if (auto s = run("_start"); !s) {
    return Error{s.error()};
  }
  return vm;
}

Status Vm::resolve_exports() {
  for (size_t i = 0; i < callbacks_.size(); ++i) {
    CallbackSlot& slot = callbacks_[i];
    slot.fn = instance_->function(kCallbackNames[i]);
    if (!slot.fn) continue;
    const wasm::FunctionType& type = slot.fn->type();
    if (type.params.size() > kMaxCallbackParams) {
      slot.fn = nullptr;  // no Proxy-Wasm callback has that many: treated as not exported
      continue;
    }
    // Every Proxy-Wasm callback takes and returns integers; one that does not is a broken
    // plugin, and the VM must not call it with integers.
    auto integer = [](wasm::ValType t) {
      return t == wasm::ValType::I32 || t == wasm::ValType::I64;
    };
    if (!std::all_of(type.params.begin(), type.params.end(), integer) ||
        !std::all_of(type.results.begin(), type.results.end(), integer) ||
        type.results.size() > 1) {
      return Error{fmt::format("export {} has type {}, not a Proxy-Wasm callback's",
                               kCallbackNames[i], wasm::to_string(type))};
    }
    slot.params = static_cast<uint8_t>(type.params.size());
    for (size_t p = 0; p < type.params.size(); ++p) slot.types[p] = type.params[p];
    slot.has_result = !type.results.empty();
    slot.i64_result = slot.has_result && type.results[0] == wasm::ValType::I64;
  }
  if (!allocator_resolved_) {
    allocator_ = instance_->function("proxy_on_memory_allocate");
    if (!allocator_) allocator_ = instance_->function("malloc");
    allocator_resolved_ = true;
  }
  return Ok{};
}

Result<RootContext*> Vm::start_plugin(const std::shared_ptr<const PluginSpec>& plugin) {
  if (!alive_) return Error{"the VM is dead: " + failure_};
  auto owned = std::make_unique<RootContext>(this, next_context_id(), plugin);
  RootContext* root = owned.get();
  roots_.push_back(std::move(owned));
  register_context(root);
  const int32_t id = static_cast<int32_t>(root->id());

  bool missing = false;
  if (!call(root, Callback::OnContextCreate, {id, 0}, &missing) && !missing) {
    return Error{"proxy_on_context_create (root context) failed: " + failure_};
  }
  missing = false;
  current_configuration = &plugin->vm_configuration;
  auto r = call(root, Callback::OnVmStart,
                {id, static_cast<int32_t>(plugin->vm_configuration.size())}, &missing);
  current_configuration = nullptr;
  if (!missing) {
    if (!r) return Error{"proxy_on_vm_start failed: " + failure_};
    if (*r == 0) {
      return Error{"proxy_on_vm_start returned false (the plugin rejected its VM configuration)"};
    }
  }
  missing = false;
  current_configuration = &plugin->plugin_configuration;
  r = call(root, Callback::OnConfigure,
           {id, static_cast<int32_t>(plugin->plugin_configuration.size())}, &missing);
  current_configuration = nullptr;
  if (!missing) {
    if (!r) return Error{"proxy_on_configure failed: " + failure_};
    if (*r == 0) {
      return Error{"proxy_on_configure returned false (the plugin rejected its configuration)"};
    }
  }
  return root;
}

namespace {
template <typename Contexts>
auto context_position(Contexts& contexts, uint32_t id) {
  return std::lower_bound(contexts.begin(), contexts.end(), id,
                          [](const auto& entry, uint32_t wanted) { return entry.first < wanted; });
}
}  // namespace

ContextBase* Vm::find_context(uint32_t id) const {
  auto it = context_position(contexts_, id);
  return it != contexts_.end() && it->first == id ? it->second : nullptr;
}

void Vm::register_context(ContextBase* c) {
  if (contexts_.empty() || contexts_.back().first < c->id()) {
    contexts_.emplace_back(c->id(), c);
    return;
  }
  auto it = context_position(contexts_, c->id());
  if (it != contexts_.end() && it->first == c->id()) {
    it->second = c;
  } else {
    contexts_.emplace(it, c->id(), c);
  }
}

void Vm::unregister_context(uint32_t id) {
  auto it = context_position(contexts_, id);
  if (it != contexts_.end() && it->first == id) contexts_.erase(it);
}

std::optional<int32_t> Vm::call(ContextBase* ctx, Callback cb, std::initializer_list<int32_t> args,
                                bool* missing) {
  const CallbackSlot& slot = callbacks_[static_cast<size_t>(cb)];
  if (!slot.fn) {
    if (missing) *missing = true;
    return std::nullopt;
  }
  // This runs several times per request: arguments go straight into the engine's integer
  // slots (every Proxy-Wasm callback takes and returns integers).
  // Zero-extended: an i64 parameter gets the unsigned value, an i32 one its low half.
  int64_t slots[wasm::Instance::kMaxIntegerSlots];
  const size_t given = std::min<size_t>(args.size(), slot.params);
  for (size_t i = 0; i < given; ++i) slots[i] = static_cast<uint32_t>(args.begin()[i]);
  for (size_t i = given; i < slot.params; ++i) slots[i] = 0;
  ContextBase* saved = effective_;
  effective_ = ctx;
  const bool ok = invoke(
      [&](wasm::Instance& inst) { return inst.call_integers(*slot.fn, slots, call_failure_); },
      kCallbackNames[static_cast<size_t>(cb)].data());
  effective_ = saved;
  if (!ok) return std::nullopt;
  if (!slot.has_result) return 0;
  return static_cast<int32_t>(slots[0]);
}

bool Vm::invoke(wasm::ExportedFunction& fn, std::span<const wasm::Value> args, wasm::Value* result,
                const char* what) {
  return invoke(
      [&](wasm::Instance& inst) {
        wasm::CallResult r = inst.call(fn, args);
        const bool ok = r.ok;
        if (ok && result) *result = r.value;
        if (!ok) call_failure_ = std::move(r);
        return ok;
      },
      what);
}

template <typename Enter>
bool Vm::invoke(Enter&& enter, const char* what) {
  const bool outer = depth_ == 0;
  const bool ok = invoke_once(enter, what);
  if (outer && !after_call_.empty()) {
    // Actions may call into the VM again (and queue more): run them until none is left.
    std::vector<std::function<void()>> actions;
    while (!after_call_.empty()) {
      actions.swap(after_call_);
      for (auto& action : actions) action();
      actions.clear();
    }
  }
  return ok;
}

template <typename Enter>
bool Vm::invoke_once(Enter& enter, const char* what) {
  if (!alive_) return false;
  wasm::Instance* inst = instance_ ? instance_.get() : host_instance_;
  if (!inst) return false;
  ++depth_;
  const bool ok = enter(*inst);
  --depth_;
  host_instance_ = inst;
  if (!ok) {
    report_call_failure(what);
    return false;
  }
  return alive_;  // false: died in a nested call
}

void Vm::report_call_failure(const char* what) {
  wasm::CallResult r = std::exchange(call_failure_, wasm::CallResult{});
  if (!alive_) return;
  std::string backtrace = r.backtrace.empty() ? "" : " (wasm backtrace: " + r.backtrace + ")";
  if (r.interrupted) {
    fail(fmt::format("{}: stopped after exceeding the call deadline of {} ms{}", what,
                     first_plugin_->limits.call_deadline.count(), backtrace));
  } else {
    fail(fmt::format("{}: {}{}", what, r.error, backtrace));
  }
}

void Vm::fail(std::string_view why) {
  if (!alive_) return;
  alive_ = false;
  failure_.assign(why);
  const PluginSpec& p = effective_ ? effective_->plugin() : *first_plugin_;
  spdlog::error("wasm plugin '{}' (root_id '{}', vm_id '{}'): VM failed, instance discarded: {}",
                p.name, p.root_id, p.vm_id, why);
  // Created on the first failure only: a healthy plugin adds no stats beside its own.
  rt_->stats().counter("wasm.plugin." + p.name + ".vm_failures").inc();
  // gRPC streams may live as long as the VM: a dead one ends them now (HTTP and Redis
  // calls finish on their own and are dropped). Events of a cancelled stream never run,
  // also when this failure happens inside one of them.
  if (ClusterCalls* calls = rt_->cluster_calls()) {
    for (auto it = calls_.begin(); it != calls_.end();) {
      const bool grpc =
          it->second.kind == CallKind::GrpcCall || it->second.kind == CallKind::GrpcStream;
      if (!grpc) {
        ++it;
        continue;
      }
      if (it->second.request_id != 0) calls->cancel(it->second.request_id);
      it = calls_.erase(it);
    }
  }
  std::vector<StreamHost*> hosts;
  for (const auto& [id, context] : contexts_) {
    if (StreamHost* host = context->stream_host()) hosts.push_back(host);
  }
  for (StreamHost* host : hosts) host->on_vm_failed();
}

namespace {
constexpr std::string_view kTruncatedMarker = "...[truncated]";
// An OutBuffer keeps its capacity for the next host call up to this; a larger answer (a
// body) is freed when the call ends.
constexpr size_t kKeptOutBufferBytes = 64 * 1024;
}  // namespace

void Vm::plugin_log(LogLevel level, std::string_view msg) {
  const uint32_t max = first_plugin_->limits.max_log_line_bytes;
  if (msg.size() > max) {
    log_line(level, msg.substr(0, max), true);
  } else {
    log_line(level, msg, false);
  }
}

bool Vm::logs_at(LogLevel level) { return log_enabled(to_spdlog(level)); }

void Vm::log_line(LogLevel level, std::string_view msg, bool cut) {
  auto lvl = to_spdlog(level);
  if (!log_enabled(lvl)) return;
  const PluginSpec& p = effective_ ? effective_->plugin() : *first_plugin_;
  if (!cut) {
    spdlog::log(lvl, "wasm log {} {}: {}", p.name, p.root_id, msg);
    return;
  }
  count_refusal(Refusal::LogLineTruncated);
  spdlog::log(lvl, "wasm log {} {}: {}{}", p.name, p.root_id, msg, kTruncatedMarker);
}

void Vm::write_output(LineBuffer& out, LogLevel level, std::string_view data) {
  const size_t max = first_plugin_->limits.max_log_line_bytes;
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    std::string_view part = data.substr(0, newline);
    if (!out.cut) {
      const size_t room = max - std::min(max, out.line.size());
      if (part.size() > room) {
        // Logged now, cut, and the rest of the line skipped: the buffer never holds more
        // than max_log_line_bytes, however long a plugin writes without a newline.
        out.line.append(part.substr(0, room));
        log_line(level, out.line, true);
        out.line.clear();
        out.cut = true;
      } else {
        out.line.append(part);
      }
    }
    if (newline == std::string_view::npos) break;
    if (!out.cut) log_line(level, out.line, false);
    out.line.clear();
    out.cut = false;
    data.remove_prefix(newline + 1);
  }
}

void Vm::count_refusal(Refusal what, const PluginSpec* plugin) {
  static constexpr std::array<std::string_view, static_cast<size_t>(Refusal::Count)> kNames = {
      "http_calls_over_limit", "http_call_responses_too_large", "shared_queue_full",
      "shared_data_full",      "log_lines_truncated",           "metrics_refused",
  };
  if (!plugin) plugin = effective_ ? &effective_->plugin() : first_plugin_.get();
  std::string name = "wasm.plugin." + plugin->name + ".";
  name.append(kNames[static_cast<size_t>(what)]);
  rt_->stats().counter(name).inc();
}

bool Vm::in_bounds(uint32_t ptr, uint64_t size) {
  return static_cast<uint64_t>(ptr) + size <= memory().size();
}

std::optional<std::string_view> Vm::slice(uint32_t ptr, uint32_t size) {
  auto m = memory();
  if (static_cast<uint64_t>(ptr) + size > m.size()) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(m.data()) + ptr, size);
}

bool Vm::write_bytes(uint32_t ptr, const void* data, size_t size) {
  auto m = memory();
  if (static_cast<uint64_t>(ptr) + size > m.size()) return false;
  if (size) std::memcpy(m.data() + ptr, data, size);
  return true;
}

bool Vm::write_u32(uint32_t ptr, uint32_t v) {
  uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                  static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
  return write_bytes(ptr, b, 4);
}

bool Vm::write_u64(uint32_t ptr, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return write_bytes(ptr, b, 8);
}

Vm::OutBuffer::OutBuffer(Vm& vm) : vm_(vm) {
  if (vm.out_buffers_in_use_ == vm.out_buffers_.size()) {
    vm.out_buffers_.push_back(std::make_unique<std::string>());
  }
  buffer_ = vm.out_buffers_[vm.out_buffers_in_use_++].get();
  buffer_->clear();
}

Vm::OutBuffer::~OutBuffer() {
  if (buffer_->capacity() > kKeptOutBufferBytes) std::string().swap(*buffer_);
  --vm_.out_buffers_in_use_;
}

std::optional<uint32_t> Vm::allocate(uint32_t size, WasmResult* why) {
  auto failed = [why](WasmResult r) -> std::optional<uint32_t> {
    if (why) *why = r;
    return std::nullopt;
  };
  if (!allocator_resolved_ && host_instance_) {
    // During instantiation (start section) the exports are not resolved yet.
    allocator_ = host_instance_->function("proxy_on_memory_allocate");
    if (!allocator_) allocator_ = host_instance_->function("malloc");
    allocator_resolved_ = allocator_ != nullptr;
  }
  if (!allocator_) return failed(WasmResult::InvalidMemoryAccess);
  // Real allocators make no host calls; one that answers every allocation with another
  // host call that allocates would recurse until the native stack runs out.
  if (allocation_depth_ >= kMaxNestedAllocations) return failed(WasmResult::InternalFailure);
  wasm::Value arg = wasm::Value::from_i32(static_cast<int32_t>(size));
  if (allocator_->type().params.size() == 1 && allocator_->type().params[0] == wasm::ValType::I64) {
    arg = wasm::Value::from_i64(size);
  }
  ContextBase* const context = effective_;
  const uint32_t context_id = context ? context->id() : 0;
  wasm::Value out;
  ++allocation_depth_;
  const bool ok = invoke(*allocator_, std::span(&arg, 1), &out, "memory allocator");
  --allocation_depth_;
  // The allocator may have switched contexts (proxy_set_effective_context): the host call
  // that asked for memory goes on in its own. (Contexts are not destroyed during a call
  // into the VM, since stream actions are deferred; check rather than rely on it.)
  effective_ = context && find_context(context_id) == context ? context : nullptr;
  if (!ok) return failed(WasmResult::InvalidMemoryAccess);
  uint32_t p = static_cast<uint32_t>(out.type == wasm::ValType::I64 ? out.i64 : out.i32);
  if (p == 0 && size > 0) return failed(WasmResult::InvalidMemoryAccess);
  // Against the memory as the allocator left it (it may have grown and moved).
  if (!in_bounds(p, size)) return failed(WasmResult::InvalidMemoryAccess);
  return p;
}

WasmResult Vm::copy_out(const OutBuffer& out, uint32_t ptr_ptr, uint32_t size_ptr) {
  std::string_view data = out.view();
  if (data.size() > UINT32_MAX) return WasmResult::InternalFailure;
  const auto size = static_cast<uint32_t>(data.size());
  // Checked before the allocator runs, so bad out-pointers leave no block behind that the
  // plugin would never learn of (memory only grows: they stay valid).
  if (!in_bounds(ptr_ptr, 4) || !in_bounds(size_ptr, 4)) return WasmResult::InvalidMemoryAccess;
  uint32_t p = 0;
  if (size > 0) {
    WasmResult why = WasmResult::InvalidMemoryAccess;
    auto block = allocate(size, &why);
    if (!block) return why;
    p = *block;
    // `data` is this call's own buffer: nothing the allocator did can have changed it.
    if (!write_bytes(p, data.data(), size)) return WasmResult::InvalidMemoryAccess;
  }
  // A block overlapping the out-pointers is the plugin's own memory: the data is written
  // first, then the size and the pointer, as in Envoy.
  if (!write_u32(size_ptr, size) || !write_u32(ptr_ptr, p)) return WasmResult::InvalidMemoryAccess;
  return WasmResult::Ok;
}

WasmResult Vm::http_call(RootContext& root, std::string_view cluster, http::HeaderMap headers,
                         std::string body, std::optional<http::HeaderMap> trailers,
                         std::chrono::milliseconds timeout, uint32_t* token) {
  const PluginLimits& limits = first_plugin_->limits;
  std::weak_ptr<Vm> self = weak_from_this();
  return start_call(
      root, CallKind::Http, WasmResult::BadArgument, token, [&](ClusterCalls& calls, uint32_t t) {
        ClusterRequest request{cluster,         std::move(headers),
                               std::move(body), std::move(trailers),
                               timeout,         limits.max_call_response_bytes};
        return calls.dispatch_http(std::move(request), [self, t](ClusterResponse& response) {
          if (auto vm = self.lock()) vm->on_http_call_done(t, response);
        });
      });
}

WasmResult Vm::start_call(RootContext& root, CallKind kind, WasmResult unknown_cluster,
                          uint32_t* token, const Dispatch& dispatch) {
  if (calls_.size() >= first_plugin_->limits.max_outstanding_calls) {
    // INTERNAL_FAILURE: the Rust SDK's dispatch_http_call returns it as an error (any
    // status but OK, BAD_ARGUMENT and INTERNAL_FAILURE makes it panic).
    count_refusal(Refusal::HttpCallsOutstanding, &root.spec());
    return WasmResult::InternalFailure;
  }
  uint32_t t = next_call_token_;
  // As Envoy: gRPC calls get odd tokens, streams even ones (proxy_grpc_send tells them
  // apart); HTTP and Redis calls any. Tokens wrap after 2^32 calls: skip one in flight.
  auto fits = [kind](uint32_t c) {
    if (kind == CallKind::GrpcCall) return (c & 1) == 1;
    if (kind == CallKind::GrpcStream) return (c & 1) == 0;
    return true;
  };
  while (t == 0 || calls_.contains(t) || !fits(t)) ++t;
  next_call_token_ = t + 1;
  uint64_t id = 0;
  // Without cluster calls (the start-up trial VM, discarded right after on_configure) a
  // call is accepted and never answered, counted as in flight so the bound holds there too.
  if (ClusterCalls* calls = rt_->cluster_calls()) {
    id = dispatch(*calls, t);
    if (id == 0) return unknown_cluster;
  }
  PendingCall& call = calls_[t];
  call.request_id = id;
  call.root_context_id = root.id();
  call.kind = kind;
  if (kind == CallKind::GrpcCall) call.answer = std::make_unique<GrpcAnswer>();
  *token = t;
  return WasmResult::Ok;
}

ContextBase* Vm::finish_call(uint32_t token, uint32_t* root_id) {
  auto it = calls_.find(token);
  if (it == calls_.end()) return nullptr;
  *root_id = it->second.root_context_id;
  calls_.erase(it);
  ContextBase* root = find_context(*root_id);
  return root && alive_ ? root : nullptr;
}

void Vm::on_http_call_done(uint32_t token, ClusterResponse& response) {
  uint32_t root_id = 0;
  ContextBase* root = finish_call(token, &root_id);
  if (!root) return;
  if (response.body_too_large) count_refusal(Refusal::HttpCallResponseTooLarge, &root->plugin());
  // A failed call (connect error, reset, timeout, a body past max_call_response_bytes) is
  // delivered with no headers, as Envoy does for the first three.
  uint32_t headers = 0, trailers = 0, body = 0;
  if (response.ok) {
    headers = static_cast<uint32_t>(response.headers.size());
    trailers = static_cast<uint32_t>(response.trailers.size());
    body = static_cast<uint32_t>(response.body.size());
  } else {
    response.headers.clear();
    response.body.clear();
    response.trailers.clear();
  }
  http_call_response_ = &response;
  (void)call(
      root, Callback::OnHttpCallResponse,
      {static_cast<int32_t>(root_id), static_cast<int32_t>(token), static_cast<int32_t>(headers),
       static_cast<int32_t>(body), static_cast<int32_t>(trailers)});
  http_call_response_ = nullptr;
}

// ---------------------------------------------------------------- Higress Redis calls

namespace {
// Higress's proxy_on_redis_call_response status: 0 the reply is in the buffer, anything
// else a failure (its Go SDK only tests for 0).
constexpr int32_t kRedisCallOk = 0;
constexpr int32_t kRedisCallFailed = 1;
// proxy_redis_init names a plugin may register (each its own credentials).
constexpr size_t kMaxRedisClusterSettings = 256;
}  // namespace

WasmResult Vm::redis_init(std::string_view cluster, std::string_view username,
                          std::string_view password, std::chrono::milliseconds timeout) {
  RedisClusterSettings settings;
  settings.cluster = std::string(cluster);
  // Higress's wrapper asks for a database as "cluster?db=N".
  if (auto q = cluster.find('?'); q != std::string_view::npos) {
    std::string_view param = cluster.substr(q + 1);
    settings.cluster = std::string(cluster.substr(0, q));
    if (!param.starts_with("db=") || param.size() == 3 || param.size() > 8) {
      return WasmResult::BadArgument;
    }
    uint32_t db = 0;
    for (char c : param.substr(3)) {
      if (c < '0' || c > '9') return WasmResult::BadArgument;
      db = db * 10 + static_cast<uint32_t>(c - '0');
    }
    settings.database = db;
  }
  if (settings.cluster.empty() || username.size() + password.size() > 4096) {
    return WasmResult::BadArgument;
  }
  if (ClusterCalls* calls = rt_->cluster_calls(); calls && !calls->has_cluster(settings.cluster)) {
    return WasmResult::BadArgument;
  }
  // Calls name the cluster without "?db=N": the last init of a cluster wins.
  auto it = redis_clusters_.find(settings.cluster);
  if (it == redis_clusters_.end() && redis_clusters_.size() >= kMaxRedisClusterSettings) {
    return WasmResult::InternalFailure;
  }
  settings.username = std::string(username);
  settings.password = std::string(password);
  settings.timeout = timeout;
  std::string key = settings.cluster;
  redis_clusters_[std::move(key)] = std::move(settings);
  return WasmResult::Ok;
}

WasmResult Vm::redis_call(RootContext& root, std::string_view cluster, std::string query,
                          uint32_t* token) {
  auto settings = redis_clusters_.find(std::string(cluster));
  if (settings == redis_clusters_.end()) return WasmResult::BadArgument;  // not initialized
  const PluginLimits& limits = first_plugin_->limits;
  const RedisClusterSettings& settings_of_cluster = settings->second;
  std::weak_ptr<Vm> self = weak_from_this();
  return start_call(
      root, CallKind::Redis, WasmResult::BadArgument, token, [&](ClusterCalls& calls, uint32_t t) {
        const RedisClusterSettings& s = settings_of_cluster;
        RedisRequest request{s.cluster,
                             std::move(query),
                             s.username,
                             s.password,
                             s.database,
                             s.timeout,
                             limits.max_call_response_bytes};
        return calls.dispatch_redis(std::move(request), [self, t](ClusterResponse& response) {
          if (auto vm = self.lock()) vm->on_redis_call_done(t, response);
        });
      });
}

void Vm::on_redis_call_done(uint32_t token, ClusterResponse& response) {
  uint32_t root_id = 0;
  ContextBase* root = finish_call(token, &root_id);
  if (!root) return;
  if (response.body_too_large) count_refusal(Refusal::HttpCallResponseTooLarge, &root->plugin());
  if (!response.ok) {
    spdlog::warn("wasm plugin '{}': redis call failed: {}", root->plugin().name, response.failure);
    response.body.clear();
  }
  redis_call_response_ = &response.body;
  (void)call(
      root, Callback::OnRedisCallResponse,
      {static_cast<int32_t>(root_id), static_cast<int32_t>(token),
       response.ok ? kRedisCallOk : kRedisCallFailed, static_cast<int32_t>(response.body.size())});
  redis_call_response_ = nullptr;
}

void Vm::run_after_call(std::function<void()> action) {
  if (depth_ == 0) {
    action();
  } else {
    after_call_.push_back(std::move(action));
  }
}

void Vm::on_queue_ready(uint32_t root_context_id, uint32_t token) {
  if (!alive_) return;
  ContextBase* root = find_context(root_context_id);
  if (!root || !root->is_root()) return;
  (void)call(root, Callback::OnQueueReady,
             {static_cast<int32_t>(root_context_id), static_cast<int32_t>(token)});
}

bool is_reserved_metric_name(std::string_view name) {
  // The first dot-separated part: weir's stat namespaces and Envoy's (a name a future
  // weir stat may take is refused today rather than aliased tomorrow).
  static constexpr std::string_view kReservedRoots[] = {
      "cluster",     "cluster_manager", "control_plane", "filesystem", "http",
      "http1",       "http2",           "http3",         "listener",   "listener_manager",
      "main_thread", "overload",        "runtime",       "server",     "stats",
      "tcp",         "vhost",           "wasm",          "workers",
  };
  const std::string_view root = name.substr(0, name.find('.'));
  for (std::string_view reserved : kReservedRoots) {
    if (root == reserved) return true;
  }
  // Prometheus output renders weir's own stats as envoy_<name with '_' for anything
  // outside [A-Za-z0-9_]> and plugin metrics without a prefix: "envoy.x", "envoy_x" and
  // "envoy-x" would alias one of them there.
  if (name.size() > 5 && name.starts_with("envoy")) {
    const char c = name[5];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return true;
  }
  return false;
}

WasmResult Vm::define_metric(MetricType type, std::string_view name, uint32_t* id) {
  std::string key;
  key.reserve(name.size() + 2);
  key.push_back(static_cast<char>('0' + static_cast<int>(type)));
  key.push_back(':');
  key.append(name);
  if (auto it = metric_ids_.find(key); it != metric_ids_.end()) {
    if (it->second == 0) return WasmResult::BadArgument;  // refused before
    *id = it->second;
    return WasmResult::Ok;
  }
  if (type != MetricType::Counter && type != MetricType::Gauge && type != MetricType::Histogram) {
    return WasmResult::BadArgument;
  }
  // Every name defined here stays in the process-wide store for good: bound them.
  const char* refused = nullptr;
  if (metric_ids_.size() >= kMaxMetricNamesPerVm) {
    refused = "the plugin defined too many metrics";
  } else if (name.empty() || name.size() > kMaxMetricNameBytes) {
    refused = "a metric name must have 1 to 1024 bytes";
  } else if (is_reserved_metric_name(name)) {
    refused = "the name belongs to weir's own stats";
  }
  stats::StatsStore& store = rt_->stats();
  void* stat = nullptr;
  if (!refused) {
    switch (type) {
      case MetricType::Counter:
        stat = store.plugin_counter(name);
        break;
      case MetricType::Gauge:
        stat = store.plugin_gauge(name);
        break;
      case MetricType::Histogram:
        stat = store.plugin_histogram(name);
        break;
    }
    if (!stat) {
      refused =
          "the name is taken by another stat (of weir's own, or of another type), or plugins "
          "have defined too many metrics in this process";
    }
  }
  if (refused) {
    count_refusal(Refusal::MetricName);
    if (metric_ids_.size() < kMaxMetricNamesPerVm) {
      // Remembered (as id 0), so a plugin that retries gets its answer without a lock and
      // the log says it once.
      const PluginSpec& p = effective_ ? effective_->plugin() : *first_plugin_;
      spdlog::warn("wasm plugin '{}': proxy_define_metric('{}') refused (BAD_ARGUMENT): {}", p.name,
                   name.substr(0, 256), refused);
      metric_ids_.emplace(std::move(key), 0);
    } else if (!metric_limit_logged_) {
      metric_limit_logged_ = true;
      const PluginSpec& p = effective_ ? effective_->plugin() : *first_plugin_;
      spdlog::warn("wasm plugin '{}': proxy_define_metric refused (BAD_ARGUMENT): {} (limit {})",
                   p.name, refused, kMaxMetricNamesPerVm);
    }
    return WasmResult::BadArgument;
  }
  // Ids start at 1 (some SDKs take 0 for "not defined").
  *id = static_cast<uint32_t>(metrics_.size() + 1);
  metrics_.push_back(MetricSlot{type, stat});
  metric_ids_.emplace(std::move(key), *id);
  return WasmResult::Ok;
}

}  // namespace weir::proxy_wasm
