// The SpiderMonkey Engine: compiles modules on the main thread's context and hands out
// per-thread runtimes.
#include <js/ArrayBuffer.h>
#include <js/CallAndConstruct.h>
#include <js/GCAPI.h>
#include <js/ValueArray.h>

#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "wasm/engine/deferred_start.h"
#include "wasm/engine/engine.h"
#include "wasm/engine/function_type.h"
#include "wasm/engine/module_info.h"
#include "wasm/engine/spidermonkey_context.h"
#include "wasm/engine/spidermonkey_library.h"
#include "wasm/engine/spidermonkey_module.h"
#include "wasm/engine/spidermonkey_runtime.h"
#include "wasm/engine/spidermonkey_tiers.h"

namespace weir::wasm {
namespace sm {
namespace {

std::string_view kind_name(ExternalKind kind) {
  switch (kind) {
    case ExternalKind::Function:
      return "function";
    case ExternalKind::Table:
      return "table";
    case ExternalKind::Memory:
      return "memory";
    case ExternalKind::Global:
      return "global";
    case ExternalKind::Tag:
      return "tag";
  }
  return "?";
}

// What the engine cannot run, found before any instance is made.
Status check_supported(const ModuleInfo& info) {
  for (const OtherImport& import : info.other_imports) {
    std::string qualified_name = import.module + "." + import.name;
    if (import.kind == ExternalKind::Memory) {
      return Error{"module imports its memory (" + qualified_name +
                   "); it must define and export it instead"};
    }
    return Error{"module imports a " + std::string(kind_name(import.kind)) + " (" + qualified_name +
                 "); only functions can be imported"};
  }
  if (info.shared_memory) return Error{"module has a shared memory, which is not supported"};
  // One JS function serves both imports of a name, so they need one type.
  std::map<std::pair<std::string_view, std::string_view>, const FunctionType*> seen;
  for (const FunctionImport& import : info.function_imports) {
    auto [it, inserted] = seen.try_emplace({import.module, import.name}, &import.type);
    if (!inserted && !same_type(*it->second, import.type)) {
      return Error{"module imports " + import.module + "." + import.name +
                   " twice with different types"};
    }
  }
  return Ok{};
}

class SmEngine final : public Engine {
 public:
  explicit SmEngine(std::shared_ptr<Library> library) : library_(std::move(library)) {}

  // Releases the compile context, then SpiderMonkey itself (JS_ShutDown) unless runtimes or
  // compiled modules still hold it: then the last of them does.
  ~SmEngine() override = default;

  std::string_view name() const override { return "spidermonkey"; }

  Result<std::shared_ptr<const CompiledModule>> compile(std::span<const uint8_t> bytes) override {
    std::lock_guard lock(compile_mutex_);
    if (!compile_context_) {
      Result<std::shared_ptr<ThreadContext>> context = ThreadContext::for_current_thread(library_);
      if (!context) return Error{context.error()};
      compile_context_ = std::move(*context);
    } else if (!compile_context_->on_owner_thread()) {
      return Error{"Engine::compile must always be called on the same thread"};
    }
    // Read first: a start section has to be moved out before compiling (deferred_start.h).
    // When the reader fails, SpiderMonkey gets the bytes as they are and explains.
    Result<ModuleInfo> info = read_module_info(bytes);
    std::optional<DeferredStart> deferred_start;
    if (info && info->start_function) {
      Result<DeferredStart> rewritten = defer_start_function(bytes, *info->start_function);
      if (!rewritten) return Error{"moving the start function: " + rewritten.error()};
      deferred_start = std::move(*rewritten);
    }
    Result<RefPtr<JS::WasmModule>> module =
        compile_with_spidermonkey(deferred_start ? deferred_start->wasm : bytes);
    if (!module) return Error{module.error()};
    if (!info) return Error{"reading module info: " + info.error()};
    if (Status supported = check_supported(*info); !supported) return Error{supported.error()};
    return std::shared_ptr<const CompiledModule>(
        std::make_shared<SmCompiledModule>(library_, std::move(*module), std::move(*info),
                                           deferred_start ? deferred_start->export_name : ""));
  }

  Result<std::unique_ptr<Runtime>> create_runtime() override {
    Result<std::shared_ptr<ThreadContext>> context = ThreadContext::for_current_thread(library_);
    if (!context) return Error{context.error()};
    return std::unique_ptr<Runtime>(std::make_unique<SmRuntime>(std::move(*context)));
  }

 private:
  // `new WebAssembly.Module(bytes)`: validation and machine code, or SpiderMonkey's
  // "CompileError: ..." message.
  Result<RefPtr<JS::WasmModule>> compile_with_spidermonkey(std::span<const uint8_t> bytes) {
    JSContext* cx = compile_context_->cx();
    apply_wasm_tiers(cx, wasm_tiers());
    JS::RootedObject buffer(cx, JS::NewArrayBuffer(cx, bytes.size()));
    if (!buffer) return Error{compile_context_->take_exception()};
    if (!bytes.empty()) {
      JS::AutoCheckCannotGC no_gc;
      bool shared;
      std::memcpy(JS::GetArrayBufferData(buffer, &shared, no_gc), bytes.data(), bytes.size());
    }
    JS::RootedValueArray<1> args(cx);
    args[0].setObject(*buffer);
    JS::RootedObject module_object(cx);
    if (!JS::Construct(cx, compile_context_->module_constructor(), args, &module_object)) {
      std::string error = compile_context_->take_exception();
      return Error{error.empty() ? "compilation was interrupted" : error};
    }
    return JS::GetWasmModule(module_object);
  }

  std::shared_ptr<Library> library_;  // first, so it is released last
  std::mutex compile_mutex_;
  std::shared_ptr<ThreadContext> compile_context_;  // created by the first compile()
};

}  // namespace
}  // namespace sm

Result<std::unique_ptr<Engine>> create_spidermonkey_engine() {
  Result<std::shared_ptr<sm::Library>> library = sm::Library::acquire();
  if (!library) return Error{library.error()};
  return std::unique_ptr<Engine>(std::make_unique<sm::SmEngine>(std::move(*library)));
}

}  // namespace weir::wasm
