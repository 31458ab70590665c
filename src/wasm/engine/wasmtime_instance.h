#pragma once
// An instance in a store of its own: the store carries the instance's call deadline and
// memory cap, and goes with the instance (a trapped instance is dropped whole).
#include <wasmtime.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "wasm/engine/engine.h"
#include "wasm/engine/wasmtime_module.h"

namespace weir::wasm::wt {

class WtInstance;

class WtExportedFunction final : public ExportedFunction {
 public:
  WtExportedFunction(const WtInstance* owner, const FunctionType* type, wasmtime_func_t func)
      : owner_(owner),
        type_(type),
        func_(func),
        slots_(std::max<size_t>(std::max(type->params.size(), type->results.size()), 1)) {}
  const FunctionType& type() const override { return *type_; }
  const WtInstance* owner() const { return owner_; }
  const wasmtime_func_t& func() const { return func_; }
  // Raw values a call needs: room for the arguments and for the results.
  size_t slots() const { return slots_; }

 private:
  const WtInstance* owner_;
  const FunctionType* type_;  // owned by the compiled module
  wasmtime_func_t func_;
  size_t slots_;
};

class WtInstance final : public Instance {
 public:
  static Result<std::unique_ptr<Instance>> create(std::shared_ptr<const WtLinkedModule> module,
                                                  void* host_data, const InstanceLimits& limits);
  ~WtInstance() override;

  ExportedFunction* function(std::string_view name) override;
  CallResult call(ExportedFunction& fn, std::span<const Value> args) override;
  bool call_integers(ExportedFunction& fn, int64_t* slots, CallResult& failure) override;
  std::span<uint8_t> memory() override;

  // For the host-function trampoline. The caller lets exports be found while the start
  // function runs (before the instance handle exists); scopes nest with re-entry.
  wasmtime_caller_t* enter_host_function(wasmtime_caller_t* caller) {
    wasmtime_caller_t* outer = caller_;
    caller_ = caller;
    return outer;
  }
  void leave_host_function(wasmtime_caller_t* outer) { caller_ = outer; }
  // The message of the trap a host function is about to raise.
  void note_host_trap(std::string message) { host_trap_ = std::move(message); }

 private:
  WtInstance(std::shared_ptr<const WtLinkedModule> module, void* host_data,
             const InstanceLimits& limits);
  Status instantiate();
  // Before an outermost call: the deadline counts from now.
  void arm_deadline();
  bool find_export(std::string_view name, wasmtime_extern_t* item);
  std::string deadline_message() const;
  // Calls into Wasm with the store's deadline armed for an outermost call; false and
  // `failure` filled on a trap.
  bool enter(const wasmtime_func_t& func, wasmtime_val_raw_t* raw, size_t slots,
             CallResult& failure);

  std::shared_ptr<const WtLinkedModule> module_;
  InstanceLimits limits_;
  std::chrono::milliseconds effective_deadline_{0};
  // ticks_for(effective_deadline_) at the ticker period it was computed for.
  int64_t deadline_period_ms_ = 0;
  uint64_t deadline_ticks_ = 0;
  wasmtime_store_t* store_ = nullptr;
  wasmtime_context_t* context_ = nullptr;
  wasmtime_instance_t instance_{};
  bool instantiated_ = false;
  wasmtime_caller_t* caller_ = nullptr;
  int depth_ = 0;  // calls into Wasm on the stack (> 1 when a host function re-enters)
  bool has_memory_ = false;
  wasmtime_memory_t memory_{};
  std::string host_trap_;
  std::map<std::string, std::unique_ptr<WtExportedFunction>, std::less<>> functions_;
};

}  // namespace weir::wasm::wt
