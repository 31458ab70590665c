#include "wasm/engine/spidermonkey_instance.h"

#include <js/ArrayBuffer.h>
#include <js/CallAndConstruct.h>
#include <js/Interrupt.h>
#include <js/PropertyAndElement.h>
#include <js/ValueArray.h>

#include "wasm/engine/spidermonkey_host_function.h"
#include "wasm/engine/spidermonkey_values.h"

namespace weir::wasm::sm {
namespace {

constexpr size_t kMaxInlineArgs = 8;  // Proxy-Wasm callbacks take at most 5

CallResult failed(std::string error) {
  CallResult result;
  result.ok = false;
  result.error = std::move(error);
  return result;
}

// The name Proxy-Wasm modules export their memory under; else the first exported memory.
const std::string* memory_export_name(const ModuleInfo& info) {
  for (const std::string& name : info.memory_exports) {
    if (name == "memory") return &name;
  }
  return info.memory_exports.empty() ? nullptr : &info.memory_exports.front();
}

// Converts `args` by `type` into `out` (a rooted array or vector of at least that size).
template <typename JsValues>
bool convert_args(JSContext* cx, const FunctionType& type, std::span<const Value> args,
                  JsValues& out) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (!to_js_value(cx, type.params[i], args[i], out[i])) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<SmInstance>> SmInstance::create(
    std::shared_ptr<ThreadContext> context, std::shared_ptr<const SmCompiledModule> module,
    const std::vector<HostFunction>& functions, void* host_data) {
  JSContext* cx = context->cx();
  std::unique_ptr<SmInstance> instance(
      new SmInstance(std::move(context), std::move(module), host_data));
  ThreadContext& thread_context = *instance->context_;
  const SmCompiledModule& compiled = *instance->module_;
  const std::vector<FunctionImport>& imports = compiled.info().function_imports;
  instance->host_imports_.reserve(imports.size());  // no reallocation: JS points into it
  for (size_t i = 0; i < imports.size(); ++i) {
    instance->host_imports_.push_back({functions[i], &imports[i], instance.get()});
  }

  JS::RootedObject import_object(cx);
  if (!instance->build_import_object(&import_object)) {
    return Error{"building the import object: " + thread_context.take_exception()};
  }
  JS::RootedObject module_object(cx, compiled.create_module_object(cx));
  if (!module_object) return Error{"WebAssembly.Module: " + thread_context.take_exception()};

  JS::RootedValueArray<2> args(cx);
  args[0].setObject(*module_object);
  args[1].setObject(*import_object);
  JS::RootedObject instance_object(cx);
  // No code of the module runs in here: its start function, if any, was deferred.
  if (!JS::Construct(cx, thread_context.instance_constructor(), args, &instance_object)) {
    return Error{thread_context.take_exception()};
  }
  if (!instance->attach(instance_object)) {
    return Error{"reading the instance's exports: " + thread_context.take_exception()};
  }
  if (Status started = instance->run_deferred_start(); !started) return Error{started.error()};
  return instance;
}

SmInstance::SmInstance(std::shared_ptr<ThreadContext> context,
                       std::shared_ptr<const SmCompiledModule> module, void* host_data)
    : context_(std::move(context)), module_(std::move(module)) {
  host_data_ = host_data;
  JSContext* cx = context_->cx();
  instance_object_.init(cx);
  exports_.init(cx);
  memory_object_.init(cx);
  memory_buffer_.init(cx);
}

// Import objects have no prototype: module and import names like "__proto__" or
// "toString" must not find (and add functions to) Object.prototype's properties.
JSObject* new_dictionary(JSContext* cx) { return JS_NewObjectWithGivenProto(cx, nullptr, nullptr); }

bool SmInstance::build_import_object(JS::MutableHandleObject out) {
  JSContext* cx = context_->cx();
  out.set(new_dictionary(cx));
  if (!out) return false;
  JS::RootedId key(cx);
  JS::RootedValue namespace_value(cx);
  JS::RootedObject namespace_object(cx);
  JS::RootedObject function(cx);
  for (HostImport& host_import : host_imports_) {
    // Imports are grouped by module name: {"env": {"proxy_log": f, ...}, ...}.
    if (!property_key(cx, host_import.import->module, &key) ||
        !JS_GetPropertyById(cx, out, key, &namespace_value)) {
      return false;
    }
    if (namespace_value.isObject()) {
      namespace_object = &namespace_value.toObject();
    } else {
      namespace_object = new_dictionary(cx);
      if (!namespace_object ||
          !JS_DefinePropertyById(cx, out, key, namespace_object, JSPROP_ENUMERATE)) {
        return false;
      }
    }
    function = new_host_function(cx, host_import);
    if (!function || !property_key(cx, host_import.import->name, &key) ||
        !JS_DefinePropertyById(cx, namespace_object, key, function, JSPROP_ENUMERATE)) {
      return false;
    }
  }
  return true;
}

bool SmInstance::attach(JS::HandleObject instance_object) {
  JSContext* cx = context_->cx();
  instance_object_ = instance_object;
  JS::RootedValue exports(cx);
  if (!JS_GetProperty(cx, instance_object, "exports", &exports) || !exports.isObject()) {
    return false;
  }
  exports_ = &exports.toObject();
  if (const std::string* name = memory_export_name(module_->info())) {
    JS::RootedId key(cx);
    JS::RootedValue memory(cx);
    if (!property_key(cx, *name, &key) || !JS_GetPropertyById(cx, exports_, key, &memory) ||
        !memory.isObject()) {
      return false;
    }
    memory_object_ = &memory.toObject();
  }
  return true;
}

Status SmInstance::run_deferred_start() {
  const std::string& name = module_->deferred_start_export();
  if (name.empty()) return Ok{};
  JSContext* cx = context_->cx();
  JS::RootedId key(cx);
  JS::RootedValue value(cx);
  if (!property_key(cx, name, &key) || !JS_GetPropertyById(cx, exports_, key, &value) ||
      !value.isObject()) {
    return Error{"the start function's export is missing: " + context_->take_exception()};
  }
  SmExportedFunction start(cx, this, FunctionType{}, value);
  CallResult result = call(start, {});
  if (!result.ok) return Error{result.error};
  return Ok{};
}

ExportedFunction* SmInstance::function(std::string_view name) {
  if (auto cached = functions_.find(name); cached != functions_.end()) {
    return cached->second.get();
  }
  const FunctionExport* exported = nullptr;
  for (const FunctionExport& candidate : module_->info().function_exports) {
    if (candidate.name == name) exported = &candidate;
  }
  if (!exported) return nullptr;
  JSContext* cx = context_->cx();
  JS::RootedId key(cx);
  JS::RootedValue value(cx);
  if (!property_key(cx, name, &key) || !JS_GetPropertyById(cx, exports_, key, &value) ||
      !value.isObject() || !JS::IsCallable(&value.toObject())) {
    JS_ClearPendingException(cx);
    return nullptr;
  }
  auto function = std::make_unique<SmExportedFunction>(cx, this, exported->type, value);
  ExportedFunction* result = function.get();
  functions_.emplace(std::string(name), std::move(function));
  return result;
}

CallResult SmInstance::call(ExportedFunction& fn, std::span<const Value> args) {
  auto& function = static_cast<SmExportedFunction&>(fn);
  const FunctionType& type = function.type();
  if (function.owner() != this) return failed("function belongs to another instance");
  if (args.size() != type.params.size()) return failed("wrong number of arguments");
  if (type.results.size() > 1) return failed("functions with several results are not supported");
  if (!spent_reason_.empty()) return failed(spent_reason_);
  if (interrupt_requested_.load(std::memory_order_acquire)) {
    // Requested while no call ran: this call is the one it stops.
    if (call_depth_ == 0) interrupt_requested_.store(false, std::memory_order_release);
    CallResult result = failed("interrupted");
    result.interrupted = true;
    return result;
  }

  JSContext* cx = context_->cx();
  JS::RootedValueArray<kMaxInlineArgs> inline_args(cx);
  JS::RootedValueVector many_args(cx);
  bool inline_fits = args.size() <= kMaxInlineArgs;
  bool converted = inline_fits
                       ? convert_args(cx, type, args, inline_args)
                       : many_args.resize(args.size()) && convert_args(cx, type, args, many_args);
  if (!converted) return failed("converting arguments: " + context_->take_exception());
  JS::HandleValueArray js_args = inline_fits
                                     ? JS::HandleValueArray::subarray(inline_args, 0, args.size())
                                     : JS::HandleValueArray(many_args);

  JS::RootedValue js_result(cx);
  bool ok;
  {
    ThreadContext::InterruptScope scope(*context_, interrupt_requested_);
    ++call_depth_;
    ok = JS::Call(cx, JS::UndefinedHandleValue, function.function(), js_args, &js_result);
    --call_depth_;
  }

  CallResult result;
  if (ok) {
    if (!type.results.empty()) result.value = from_js_value(type.results[0], js_result);
  } else {
    result.ok = false;
    result.error = take_failure(result.interrupted);
  }
  if (call_depth_ == 0) interrupt_requested_.store(false, std::memory_order_release);
  if (result.ok) {
    if (std::string violation = memory_limit_violation(); !violation.empty()) {
      return failed(std::move(violation));
    }
  }
  return result;
}

std::string SmInstance::take_failure(bool& interrupted) {
  std::string exception = context_->take_exception();
  if (!pending_trap_.empty()) return std::exchange(pending_trap_, {});
  if (!exception.empty()) return exception;
  // Failing without an exception is a termination by the interrupt callback: ours, or
  // that of a call further out whose Wasm code is still on the stack. That code consumed
  // the interrupt and must see it again to stop too.
  interrupted = true;
  if (context_->inside_wasm_call()) JS_RequestInterruptCallback(context_->cx());
  return "interrupted";
}

bool SmInstance::trap(std::string message) {
  pending_trap_ = message.empty() ? "trap" : std::move(message);
  return false;
}

std::span<uint8_t> SmInstance::memory() {
  if (!memory_object_) return {};
  if (!memory_buffer_ || JS::IsDetachedArrayBufferObject(memory_buffer_)) {
    if (!refresh_memory_view()) return {};
  }
  return {memory_data_, memory_length_};
}

bool SmInstance::refresh_memory_view() {
  JSContext* cx = context_->cx();
  memory_buffer_ = nullptr;
  memory_data_ = nullptr;
  memory_length_ = 0;
  JS::RootedValue buffer(cx);
  if (!JS_GetProperty(cx, memory_object_, "buffer", &buffer) || !buffer.isObject() ||
      !JS::IsArrayBufferObject(&buffer.toObject())) {
    JS_ClearPendingException(cx);
    return false;
  }
  memory_buffer_ = &buffer.toObject();
  bool shared = false;
  JS::GetArrayBufferLengthAndData(memory_buffer_, &memory_length_, &shared, &memory_data_);
  return true;
}

std::string SmInstance::memory_limit_violation() {
  if (!spent_reason_.empty()) return spent_reason_;
  if (memory_limit_pages_ == 0) return {};
  uint32_t pages = memory_pages();
  if (pages <= memory_limit_pages_) return {};
  spent_reason_ = "memory limit exceeded: " + std::to_string(pages) + " pages, limit " +
                  std::to_string(memory_limit_pages_);
  return spent_reason_;
}

void SmInstance::request_interrupt() {
  interrupt_requested_.store(true, std::memory_order_release);
  JS_RequestInterruptCallback(context_->cx());
}

}  // namespace weir::wasm::sm
