// Per-thread runtimes, the compiled-module cache, ABI detection and the per-worker plugin
// (failure policy, reload).
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>

#include "proxy_wasm/vm.h"
#include "stats/stats_store.h"

namespace weir::proxy_wasm {

// ---------------------------------------------------------------- WorkerRuntime

namespace {
struct ThreadRegistryEntry {
  wasm::Engine* engine;
  std::weak_ptr<WorkerRuntime> runtime;
};
// The per-thread registry of runtimes (not used for host-call context).
thread_local std::vector<ThreadRegistryEntry> t_runtimes;
}  // namespace

WorkerRuntime::WorkerRuntime(wasm::Engine& engine, stats::StatsStore& stats)
    : engine_(engine), stats_(stats) {}

WorkerRuntime::~WorkerRuntime() { vms_.clear(); }

Result<std::shared_ptr<WorkerRuntime>> WorkerRuntime::for_current_thread(wasm::Engine& engine,
                                                                         stats::StatsStore& stats) {
  std::erase_if(t_runtimes, [](const ThreadRegistryEntry& e) { return e.runtime.expired(); });
  for (auto& e : t_runtimes) {
    if (e.engine == &engine) {
      if (auto rt = e.runtime.lock()) return rt;
    }
  }
  auto w = std::make_shared<WorkerRuntime>(engine, stats);
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
  const auto started = std::chrono::steady_clock::now();
  auto m = engine.compile(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!m.ok()) return Error{m.error()};
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
  spdlog::info("wasm: {} module of {} bytes in {:.1f} ms",
               m.value()->from_code_cache() ? "loaded compiled code from the code cache for a"
                                            : "compiled a",
               bytes.size(), ms.count());
  cache[std::move(key)] = m.value();
  return m.value();
}

Result<AbiVersion> detect_abi_version(const wasm::CompiledModule& module) {
  std::optional<AbiVersion> found;
  std::string unknown;
  for (const auto& e : module.function_exports()) {
    if (!e.name.starts_with("proxy_abi_version_")) continue;
    std::optional<AbiVersion> v;
    if (e.name == "proxy_abi_version_0_1_0") {
      v = AbiVersion::V0_1_0;
    } else if (e.name == "proxy_abi_version_0_2_0") {
      v = AbiVersion::V0_2_0;
    } else if (e.name == "proxy_abi_version_0_2_1") {
      v = AbiVersion::V0_2_1;
    } else if (e.name == "proxy_abi_version_0_2_100") {
      v = AbiVersion::V0_2_100;
    }
    if (!v) {
      unknown = e.name;
      continue;
    }
    if (!found || static_cast<int>(*v) > static_cast<int>(*found)) found = v;
  }
  if (found) return *found;
  if (!unknown.empty()) {
    return Error{"unsupported Proxy-Wasm ABI version: the module exports '" + unknown +
                 "' (weir supports proxy_abi_version_0_1_0, 0_2_0, 0_2_1 and Higress's 0_2_100)"};
  }
  return Error{
      "not a Proxy-Wasm module: it exports no proxy_abi_version_* function "
      "(expected proxy_abi_version_0_1_0, 0_2_0, 0_2_1 or Higress's 0_2_100)"};
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
    case FailurePolicy::FailOpen:
      return Decision::Skip;
    case FailurePolicy::FailClosed:
      return Decision::FailClosed;
    case FailurePolicy::FailReload:
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
