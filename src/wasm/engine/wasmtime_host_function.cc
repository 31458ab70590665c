#include "wasm/engine/wasmtime_host_function.h"

#include <exception>
#include <memory>
#include <vector>

#include "wasm/engine/wasmtime_instance.h"
#include "wasm/engine/wasmtime_module.h"
#include "wasm/engine/wasmtime_values.h"

namespace weir::wasm::wt {

namespace {

wasm_trap_t* trap(WtInstance& instance, std::string message) {
  wasm_trap_t* raised = wasmtime_trap_new(message.data(), message.size());
  instance.note_host_trap(std::move(message));
  return raised;
}

}  // namespace

wasm_trap_t* host_function_trampoline(void* env, wasmtime_caller_t* caller,
                                      wasmtime_val_raw_t* args_and_results, size_t count) {
  const auto& bound = *static_cast<const BoundHostFunction*>(env);
  wasmtime_context_t* context = wasmtime_caller_context(caller);
  auto& instance = *static_cast<WtInstance*>(wasmtime_context_get_data(context));

  // Proxy-Wasm's widest function takes 12 arguments. Only the arguments are constructed:
  // this runs on every host call.
  constexpr size_t kInline = 16;
  union InlineArgs {
    InlineArgs() {}
    Value values[kInline];
  } inline_args;
  std::vector<Value> heap_args;
  const size_t arity = bound.type.params.size();
  Value* args = inline_args.values;
  if (arity > kInline) {
    heap_args.resize(arity);
    args = heap_args.data();
  }
  for (size_t i = 0; i < arity; ++i) {
    std::construct_at(args + i, from_raw(args_and_results[i], bound.type.params[i]));
  }

  wasmtime_caller_t* outer = instance.enter_host_function(caller);
  HostCall call{instance, instance.host_data(), std::span<const Value>(args, arity)};
  HostResult result;
  try {
    result = bound.function(call);
  } catch (const std::exception& e) {
    instance.leave_host_function(outer);
    return trap(instance, bound.qualified_name + " threw: " + e.what());
  } catch (...) {
    instance.leave_host_function(outer);
    return trap(instance, bound.qualified_name + " threw an exception");
  }
  instance.leave_host_function(outer);
  if (result.trap) return trap(instance, std::move(*result.trap));
  if (!bound.type.results.empty() && count > 0) {
    // The host may answer with the other integer width; the declared type decides.
    Value value = result.value;
    const ValType want = bound.type.results[0];
    if (value.type != want) {
      if (want == ValType::I64 && value.type == ValType::I32) value = Value::from_i64(value.i32);
      if (want == ValType::I32 && value.type == ValType::I64) {
        value = Value::from_i32(static_cast<int32_t>(value.i64));
      }
      value.type = want;
    }
    args_and_results[0] = to_raw(value);
  }
  return nullptr;
}

}  // namespace weir::wasm::wt
