#include "wasm/engine/wasmtime_instance.h"

#include <array>
#include <vector>

#include "wasm/engine/function_type.h"
#include "wasm/engine/wasmtime_trap.h"
#include "wasm/engine/wasmtime_values.h"

namespace weir::wasm::wt {

namespace {

// Tables are memory too (8 bytes and more per element): bounded beside the memory cap.
// Far above what plugins use (a Go SDK plugin's function table has a few thousand).
constexpr int64_t kMaxTableElements = 1'000'000;
constexpr int64_t kMaxTables = 4;
// A deadline that is never reached (the epoch advances 1000 times a second at most).
constexpr uint64_t kNoDeadlineTicks = uint64_t{1} << 60;

}  // namespace

WtInstance::WtInstance(std::shared_ptr<const WtLinkedModule> module, void* host_data,
                       const InstanceLimits& limits)
    : module_(std::move(module)), limits_(limits) {
  host_data_ = host_data;
  const EngineState& engine = *module_->wt_module().engine();
  effective_deadline_ = limits.call_deadline * engine.deadline_multiplier;
  if (effective_deadline_.count() > 0) engine.ticker->fit(effective_deadline_);
  store_ = wasmtime_store_new(engine.engine, this, nullptr);
  context_ = wasmtime_store_context(store_);
  // One instance, one memory per store: the cap is the whole VM's.
  wasmtime_store_limiter(
      store_, limits.max_memory_bytes > 0 ? static_cast<int64_t>(limits.max_memory_bytes) : -1,
      kMaxTableElements, /*instances=*/1, kMaxTables, /*memories=*/1);
  wasmtime_context_set_epoch_deadline(context_, kNoDeadlineTicks);
}

WtInstance::~WtInstance() {
  functions_.clear();
  if (store_) wasmtime_store_delete(store_);
}

Result<std::unique_ptr<Instance>> WtInstance::create(std::shared_ptr<const WtLinkedModule> module,
                                                     void* host_data,
                                                     const InstanceLimits& limits) {
  std::unique_ptr<WtInstance> instance(new WtInstance(std::move(module), host_data, limits));
  if (Status made = instance->instantiate(); !made) return Error{made.error()};
  return std::unique_ptr<Instance>(std::move(instance));
}

Status WtInstance::instantiate() {
  arm_deadline();  // the start function runs under the deadline like any call
  wasm_trap_t* trap = nullptr;
  ++depth_;
  wasmtime_error_t* error =
      wasmtime_instance_pre_instantiate(module_->instance_pre(), context_, &instance_, &trap);
  --depth_;
  if (error || trap) {
    TrapDescription why = error ? take_error(error) : take_trap(trap, std::move(host_trap_));
    host_trap_.clear();
    std::string message = why.interrupted ? "start function: " + deadline_message() : why.message;
    if (!why.backtrace.empty()) message += " (wasm backtrace: " + why.backtrace + ")";
    return Error{std::move(message)};
  }
  instantiated_ = true;
  if (!has_memory_ && !module_->wt_module().memory_export().empty()) {
    wasmtime_extern_t item;
    if (find_export(module_->wt_module().memory_export(), &item) &&
        item.kind == WASMTIME_EXTERN_MEMORY) {
      memory_ = item.of.memory;
      has_memory_ = true;
    }
  }
  return Ok{};
}

std::string WtInstance::deadline_message() const {
  return "stopped after exceeding the call deadline of " +
         std::to_string(limits_.call_deadline.count()) + " ms";
}

void WtInstance::arm_deadline() {
  if (effective_deadline_.count() <= 0) return;
  const EpochTicker& ticker = *module_->wt_module().engine()->ticker;
  // The tick count changes only when the ticker's period does (another plugin's deadline).
  if (const int64_t period = ticker.period().count(); period != deadline_period_ms_) {
    deadline_period_ms_ = period;
    deadline_ticks_ = ticker.ticks_for(effective_deadline_);
  }
  wasmtime_context_set_epoch_deadline(context_, deadline_ticks_);
}

bool WtInstance::find_export(std::string_view name, wasmtime_extern_t* item) {
  if (instantiated_) {
    return wasmtime_instance_export_get(context_, &instance_, name.data(), name.size(), item);
  }
  // Still in the start function: only the calling instance can say.
  return caller_ && wasmtime_caller_export_get(caller_, name.data(), name.size(), item);
}

ExportedFunction* WtInstance::function(std::string_view name) {
  if (auto it = functions_.find(name); it != functions_.end()) return it->second.get();
  const FunctionExport* exported = module_->wt_module().find_export(name);
  if (!exported) return nullptr;
  wasmtime_extern_t item;
  if (!find_export(name, &item) || item.kind != WASMTIME_EXTERN_FUNC) return nullptr;
  auto function = std::make_unique<WtExportedFunction>(this, &exported->type, item.of.func);
  ExportedFunction* out = function.get();
  functions_.emplace(std::string(name), std::move(function));
  return out;
}

std::span<uint8_t> WtInstance::memory() {
  if (!has_memory_) {
    // During the start function the memory is reachable through the caller only.
    if (instantiated_ || !caller_ || module_->wt_module().memory_export().empty()) return {};
    wasmtime_extern_t item;
    if (!find_export(module_->wt_module().memory_export(), &item) ||
        item.kind != WASMTIME_EXTERN_MEMORY) {
      return {};
    }
    memory_ = item.of.memory;
    has_memory_ = true;
  }
  return {wasmtime_memory_data(context_, &memory_), wasmtime_memory_data_size(context_, &memory_)};
}

CallResult WtInstance::call(ExportedFunction& fn, std::span<const Value> args) {
  CallResult result;
  auto& function = static_cast<WtExportedFunction&>(fn);
  if (function.owner() != this) {
    result.ok = false;
    result.error = "called a function of another instance";
    return result;
  }
  const FunctionType& type = function.type();
  bool args_match = args.size() == type.params.size();
  for (size_t i = 0; args_match && i < args.size(); ++i) {
    args_match = args[i].type == type.params[i];
  }
  if (!args_match) {
    result.ok = false;
    result.error = "wrong arguments for a function of type " + to_string(type);
    return result;
  }
  constexpr size_t kInline = 16;
  const size_t slots = std::max<size_t>(std::max(type.params.size(), type.results.size()), 1);
  std::array<wasmtime_val_raw_t, kInline> inline_raw;
  std::vector<wasmtime_val_raw_t> heap_raw;
  wasmtime_val_raw_t* raw = inline_raw.data();
  if (slots > kInline) {
    heap_raw.resize(slots);
    raw = heap_raw.data();
  }
  for (size_t i = 0; i < args.size(); ++i) raw[i] = to_raw(args[i]);

  if (!enter(function.func(), raw, slots, result)) return result;
  if (!type.results.empty()) result.value = from_raw(raw[0], type.results[0]);
  return result;
}

bool WtInstance::call_integers(ExportedFunction& fn, int64_t* slots, CallResult& failure) {
  auto& function = static_cast<WtExportedFunction&>(fn);
  if (function.owner() != this) {
    failure.ok = false;
    failure.error = "called a function of another instance";
    return false;
  }
  const FunctionType& type = function.type();
  const size_t count = function.slots();
  std::array<wasmtime_val_raw_t, kMaxIntegerSlots> raw;
  if (count > raw.size()) {
    failure.ok = false;
    failure.error = "too many parameters for an integer call: " + to_string(type);
    return false;
  }
  for (size_t i = 0; i < type.params.size(); ++i) raw[i].i64 = slots[i];
  if (!enter(function.func(), raw.data(), count, failure)) return false;
  if (!type.results.empty()) {
    slots[0] = type.results[0] == ValType::I64 ? raw[0].i64 : int64_t{raw[0].i32};
  }
  return true;
}

bool WtInstance::enter(const wasmtime_func_t& func, wasmtime_val_raw_t* raw, size_t slots,
                       CallResult& failure) {
  if (depth_ == 0) arm_deadline();
  ++depth_;
  wasm_trap_t* trap = nullptr;
  wasmtime_error_t* error = wasmtime_func_call_unchecked(context_, &func, raw, slots, &trap);
  --depth_;
  if (!error && !trap) return true;
  TrapDescription why = error ? take_error(error) : take_trap(trap, std::move(host_trap_));
  host_trap_.clear();
  failure.ok = false;
  failure.interrupted = why.interrupted;
  failure.error = why.interrupted ? deadline_message() : std::move(why.message);
  failure.backtrace = std::move(why.backtrace);
  return false;
}

}  // namespace weir::wasm::wt
