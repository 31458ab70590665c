#include "wasm/engine/spidermonkey_host_function.h"

#include <js/CallArgs.h>
#include <jsfriendapi.h>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "wasm/engine/spidermonkey_values.h"

namespace weir::wasm::sm {
namespace {

constexpr size_t kImportSlot = 0;        // reserved slot holding the HostImport*
constexpr size_t kMaxInlineParams = 16;  // more than Proxy-Wasm or WASI ever pass

std::string qualified_name(const HostImport& import) {
  return import.import->module + "." + import.import->name;
}

HostResult run_host_function(const HostImport& import, HostCall& call) {
  try {
    return import.function(call);
  } catch (const std::exception& e) {
    // Unwinding a C++ exception through JIT frames would crash: make it a trap.
    return HostResult::trap_with("host function " + qualified_name(import) + " threw: " + e.what());
  } catch (...) {
    return HostResult::trap_with("host function " + qualified_name(import) + " threw");
  }
}

bool call_host_function(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs js_args = JS::CallArgsFromVp(argc, vp);
  auto& import = *static_cast<HostImport*>(
      js::GetFunctionNativeReserved(&js_args.callee(), kImportSlot).toPrivate());
  SmInstance& instance = *import.instance;
  // A plugin that grew its memory beyond the limit gets no further service.
  if (std::string violation = instance.memory_limit_violation(); !violation.empty()) {
    return instance.trap(std::move(violation));
  }

  const FunctionType& type = import.import->type;
  Value inline_args[kMaxInlineParams];
  std::vector<Value> many_args;
  std::span<Value> args(inline_args, std::min(type.params.size(), kMaxInlineParams));
  if (type.params.size() > kMaxInlineParams) {
    many_args.resize(type.params.size());
    args = many_args;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    args[i] = from_js_value(type.params[i], js_args.get(i));
  }

  HostCall call{instance, instance.host_data(), args};
  HostResult result = run_host_function(import, call);
  if (result.trap) return instance.trap(std::move(result.trap_message));
  if (type.results.empty()) {
    js_args.rval().setUndefined();
    return true;
  }
  return to_js_value(cx, type.results[0], result.value, js_args.rval());
}

}  // namespace

JSObject* new_host_function(JSContext* cx, HostImport& import) {
  // The name only shows in stack traces; Wasm names are UTF-8 but this API wants Latin-1,
  // which at worst garbles non-ASCII names there.
  JSFunction* function = js::NewFunctionWithReserved(
      cx, call_host_function, import.import->type.params.size(), 0, import.import->name.c_str());
  if (!function) return nullptr;
  JSObject* object = JS_GetFunctionObject(function);
  js::SetFunctionNativeReserved(object, kImportSlot, JS::PrivateValue(&import));
  return object;
}

}  // namespace weir::wasm::sm
