// Per-thread runtimes, the watchdog, the compiled-module cache, ABI detection and the
// per-worker plugin (failure policy, reload).
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "proxy_wasm/vm.h"
#include "stats/stats_store.h"

namespace weir::proxy_wasm {

// ---------------------------------------------------------------- watchdog

namespace {

class Watchdog {
 public:
  static Watchdog& get() {
    static Watchdog w;
    return w;
  }
  void add(const std::shared_ptr<WatchSlot>& s) {
    std::lock_guard lk(mu_);
    slots_.push_back(s);
    if (!thread_.joinable()) {
      // The thread must never take process signals (SIGTERM, SIGINT): the server reads
      // them from a signalfd, and a thread that does not block them would get them with
      // the default action (the process dies without draining).
      sigset_t all, saved;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, &saved);
      thread_ = std::thread([this] { run(); });
      pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    }
  }
  void remove(const WatchSlot* s) {
    std::lock_guard lk(mu_);
    std::erase_if(slots_, [&](const auto& p) { return p.get() == s; });
  }
  void set_tick(std::chrono::milliseconds t) {
    std::lock_guard lk(mu_);
    tick_ = t;
  }
  ~Watchdog() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    while (!stop_) {
      cv_.wait_for(lk, tick_);
      if (stop_) break;
      auto now = std::chrono::steady_clock::now();
      for (auto& s : slots_) check(*s, now);
    }
  }
  static void check(WatchSlot& s, std::chrono::steady_clock::time_point now) {
    s.busy.store(true, std::memory_order_seq_cst);
    uint64_t c = s.calls.load(std::memory_order_seq_cst);
    if ((c & 1) == 0) {
      s.fired = false;
    } else if (c != s.last_seen) {
      s.last_seen = c;
      s.since = now;
      s.fired = false;
    } else if (!s.fired && now - s.since >= std::chrono::milliseconds(
                                                s.limit_ms.load(std::memory_order_relaxed))) {
      wasm::Instance* inst = s.instance.load(std::memory_order_seq_cst);
      // Still the same call? (A spurious interrupt would hit the next call.)
      if (inst && s.calls.load(std::memory_order_seq_cst) == c) {
        inst->request_interrupt();
        s.fired = true;
      }
    }
    s.busy.store(false, std::memory_order_seq_cst);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<WatchSlot>> slots_;
  std::chrono::milliseconds tick_{50};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

void set_watchdog_tick(std::chrono::milliseconds tick) { Watchdog::get().set_tick(tick); }

// ---------------------------------------------------------------- WorkerRuntime

namespace {
struct ThreadRegistryEntry {
  wasm::Engine* engine;
  std::weak_ptr<WorkerRuntime> runtime;
};
// The per-thread registry of runtimes (not used for host-call context).
thread_local std::vector<ThreadRegistryEntry> t_runtimes;
}  // namespace

WorkerRuntime::WorkerRuntime(wasm::Engine& engine, stats::StatsStore& stats,
                             std::unique_ptr<wasm::Runtime> rt)
    : engine_(engine),
      stats_(stats),
      runtime_(std::move(rt)),
      slot_(std::make_shared<WatchSlot>()) {
  Watchdog::get().add(slot_);
}

WorkerRuntime::~WorkerRuntime() {
  Watchdog::get().remove(slot_.get());
  vms_.clear();
  runtime_.reset();
}

Result<std::shared_ptr<WorkerRuntime>> WorkerRuntime::for_current_thread(wasm::Engine& engine,
                                                                         stats::StatsStore& stats) {
  std::erase_if(t_runtimes, [](const ThreadRegistryEntry& e) { return e.runtime.expired(); });
  for (auto& e : t_runtimes) {
    if (e.engine == &engine) {
      if (auto rt = e.runtime.lock()) return rt;
    }
  }
  auto rt = engine.create_runtime();
  if (!rt.ok()) return Error{"creating the Wasm runtime for this thread failed: " + rt.error()};
  auto w = std::make_shared<WorkerRuntime>(engine, stats, std::move(rt.value()));
  t_runtimes.push_back({&engine, w});
  return w;
}

std::shared_ptr<Vm> WorkerRuntime::find_vm(const std::string& key) {
  auto it = vms_.find(key);
  if (it == vms_.end()) return nullptr;
  auto vm = it->second.lock();
  if (!vm || !vm->alive()) {
    vms_.erase(it);
    return nullptr;
  }
  return vm;
}

void WorkerRuntime::register_vm(const std::string& key, const std::shared_ptr<Vm>& vm) {
  std::erase_if(vms_, [](const auto& kv) { return kv.second.expired(); });
  vms_[key] = vm;
}

// ---------------------------------------------------------------- module cache, ABI

Result<std::shared_ptr<const wasm::CompiledModule>> compile_shared(wasm::Engine& engine,
                                                                   std::string_view bytes) {
  static std::mutex mu;
  static std::map<std::pair<wasm::Engine*, std::string>, std::weak_ptr<const wasm::CompiledModule>>
      cache;
  std::lock_guard lk(mu);
  std::erase_if(cache, [](const auto& kv) { return kv.second.expired(); });
  auto key = std::make_pair(&engine, std::string(bytes));
  if (auto it = cache.find(key); it != cache.end()) {
    if (auto m = it->second.lock()) return m;
  }
  auto m = engine.compile(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!m.ok()) return Error{m.error()};
  cache[std::move(key)] = m.value();
  return m.value();
}

Result<AbiVersion> detect_abi_version(const wasm::CompiledModule& module) {
  std::optional<AbiVersion> found;
  std::string unknown;
  for (const auto& e : module.function_exports()) {
    if (!e.name.starts_with("proxy_abi_version_")) continue;
    std::optional<AbiVersion> v;
    if (e.name == "proxy_abi_version_0_1_0")
      v = AbiVersion::V0_1_0;
    else if (e.name == "proxy_abi_version_0_2_0")
      v = AbiVersion::V0_2_0;
    else if (e.name == "proxy_abi_version_0_2_1")
      v = AbiVersion::V0_2_1;
    if (!v) {
      unknown = e.name;
      continue;
    }
    if (!found || static_cast<int>(*v) > static_cast<int>(*found)) found = v;
  }
  if (found) return *found;
  if (!unknown.empty()) {
    return Error{"unsupported Proxy-Wasm ABI version: the module exports '" + unknown +
                 "' (weir supports proxy_abi_version_0_1_0, 0_2_0 and 0_2_1)"};
  }
  return Error{
      "not a Proxy-Wasm module: it exports no proxy_abi_version_* function "
      "(expected proxy_abi_version_0_1_0, 0_2_0 or 0_2_1)"};
}

// ---------------------------------------------------------------- WorkerPlugin

WorkerPlugin::WorkerPlugin(std::shared_ptr<const PluginSpec> spec,
                           std::shared_ptr<const PluginModule> module,
                           std::shared_ptr<WorkerRuntime> rt)
    : spec_(std::move(spec)), module_(std::move(module)), rt_(std::move(rt)) {}

WorkerPlugin::~WorkerPlugin() {
  if (vm_ && root_) root_->stop();
}

Result<std::shared_ptr<WorkerPlugin>> WorkerPlugin::create(
    std::shared_ptr<const PluginSpec> spec, std::shared_ptr<const PluginModule> module,
    std::shared_ptr<WorkerRuntime> rt) {
  auto p = std::make_shared<WorkerPlugin>(std::move(spec), std::move(module), std::move(rt));
  if (auto s = p->start(); !s) return Error{s.error()};
  return p;
}

std::string WorkerPlugin::vm_key() const {
  std::string k = spec_->vm_id;
  k.push_back('\0');
  k += std::to_string(reinterpret_cast<uintptr_t>(&module_->module()));
  k.push_back('\0');
  k += spec_->vm_configuration;
  return k;
}

Status WorkerPlugin::start() {
  const std::string key = vm_key();
  std::shared_ptr<Vm> vm = rt_->find_vm(key);
  if (!vm) {
    auto created = Vm::create(rt_, module_, spec_);
    if (!created.ok()) return Error{created.error()};
    vm = created.value();
    rt_->register_vm(key, vm);
  }
  auto root = vm->start_plugin(spec_);
  if (!root.ok()) return Error{root.error()};
  vm_ = std::move(vm);
  root_ = root.value();
  return Ok{};
}

WorkerPlugin::Decision WorkerPlugin::acquire(std::shared_ptr<Vm>& vm, RootContext*& root) {
  if (vm_ && root_ && vm_->alive()) {
    vm = vm_;
    root = root_;
    return Decision::Use;
  }
  switch (spec_->failure_policy) {
    case config::FailurePolicy::FailOpen:
      return Decision::Skip;
    case config::FailurePolicy::FailClosed:
      return Decision::FailClosed;
    case config::FailurePolicy::FailReload:
      break;
  }
  auto now = std::chrono::steady_clock::now();
  if (now < next_reload_) return Decision::FailClosed;
  // A VM that lived long since its last reload starts the backoff afresh; one that keeps
  // crashing is reloaded less and less often (crash-loop protection).
  if (now - last_reload_ > 2 * kReloadBackoffMax) backoff_ = kReloadBackoffInitial;
  last_reload_ = now;
  next_reload_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(kReloadBackoffMax));
  // Drop the dead VM first (its instance goes once the last stream using it ends).
  vm_.reset();
  root_ = nullptr;
  rt_->stats().counter("wasm.plugin." + spec_->name + ".vm_reload").inc();
  if (auto s = start(); !s) {
    rt_->stats().counter("wasm.plugin." + spec_->name + ".vm_reload_failure").inc();
    spdlog::error("wasm plugin '{}': reloading the VM failed (next try in {} ms): {}", spec_->name,
                  std::chrono::duration_cast<std::chrono::milliseconds>(next_reload_ - now).count(),
                  s.error());
    return Decision::FailClosed;
  }
  rt_->stats().counter("wasm.plugin." + spec_->name + ".vm_reload_success").inc();
  spdlog::info("wasm plugin '{}': VM reloaded", spec_->name);
  vm = vm_;
  root = root_;
  return Decision::Use;
}

}  // namespace weir::proxy_wasm
