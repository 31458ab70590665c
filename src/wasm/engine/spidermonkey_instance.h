#pragma once
// An instance of a compiled module in one thread's context: calls into Wasm, its memory,
// interrupts, and the state host functions need while Wasm calls them.
#include <jsapi.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "wasm/engine/engine.h"
#include "wasm/engine/spidermonkey_context.h"
#include "wasm/engine/spidermonkey_module.h"

namespace weir::wasm::sm {

class SmInstance;

// One function import bound to host code. The JS function Wasm calls finds it through a
// reserved slot, so it must stay at its address while the instance lives.
struct HostImport {
  HostFunction function;
  const FunctionImport* import;  // name and declared type; owned by the compiled module
  SmInstance* instance;
};

class SmExportedFunction final : public ExportedFunction {
 public:
  SmExportedFunction(JSContext* cx, const SmInstance* owner, FunctionType type,
                     JS::HandleValue function)
      : owner_(owner), type_(std::move(type)), function_(cx, function) {}
  const FunctionType& type() const override { return type_; }
  const SmInstance* owner() const { return owner_; }
  JS::HandleValue function() const { return function_; }

 private:
  const SmInstance* owner_;
  FunctionType type_;
  JS::PersistentRootedValue function_;
};

class SmInstance final : public Instance {
 public:
  // Instantiates `module` with `functions[i]` bound to its i-th function import. The start
  // function runs here, with host_data already attached.
  static Result<std::unique_ptr<SmInstance>> create(std::shared_ptr<ThreadContext> context,
                                                    std::shared_ptr<const SmCompiledModule> module,
                                                    const std::vector<HostFunction>& functions,
                                                    void* host_data);

  ~SmInstance() override = default;

  ExportedFunction* function(std::string_view name) override;
  CallResult call(ExportedFunction& fn, std::span<const Value> args) override;
  std::span<uint8_t> memory() override;
  void request_interrupt() override;

  // For host functions. Records a trap for the running call to report, and returns false
  // for the JSNative to return: failing without an exception is an uncatchable error, so
  // Wasm code (try/catch_all) cannot swallow it.
  bool trap(std::string message);
  // Empty while the memory is within the limit; else why not (and the instance is spent).
  std::string memory_limit_violation();

 private:
  SmInstance(std::shared_ptr<ThreadContext> context, std::shared_ptr<const SmCompiledModule> module,
             void* host_data);
  bool build_import_object(JS::MutableHandleObject out);
  bool attach(JS::HandleObject instance_object);
  // Calls the start function in place of the start section (see deferred_start.h).
  Status run_deferred_start();
  bool refresh_memory_view();
  // Why the call that just returned false failed; sets `interrupted` when it was stopped.
  std::string take_failure(bool& interrupted);

  // Declared first so it is destroyed last: every persistent root below goes before it.
  std::shared_ptr<ThreadContext> context_;
  std::shared_ptr<const SmCompiledModule> module_;
  std::vector<HostImport> host_imports_;
  JS::PersistentRootedObject instance_object_;
  JS::PersistentRootedObject exports_;
  JS::PersistentRootedObject memory_object_;  // WebAssembly.Memory, if exported
  // memory_object_.buffer as last seen, with its data. Growing memory detaches the buffer,
  // which memory() checks for before handing out the cached view.
  JS::PersistentRootedObject memory_buffer_;
  uint8_t* memory_data_ = nullptr;
  size_t memory_length_ = 0;
  std::map<std::string, std::unique_ptr<SmExportedFunction>, std::less<>> functions_;
  std::atomic<bool> interrupt_requested_{false};
  int call_depth_ = 0;  // > 1 when a host function calls back into this instance
  std::string pending_trap_;
  std::string spent_reason_;  // set once the memory limit was exceeded
};

}  // namespace weir::wasm::sm
