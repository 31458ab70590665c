#include "wasm/engine/spidermonkey_runtime.h"

#include "wasm/engine/function_type.h"
#include "wasm/engine/spidermonkey_instance.h"
#include "wasm/engine/spidermonkey_module.h"

namespace weir::wasm::sm {
namespace {

// The host function for each function import of `info`, in import order.
Result<std::vector<HostFunction>> resolve_bindings(const ModuleInfo& info,
                                                   const std::vector<HostBinding>& bindings) {
  std::vector<HostFunction> functions;
  functions.reserve(info.function_imports.size());
  for (const FunctionImport& import : info.function_imports) {
    const HostBinding* binding = nullptr;
    for (const HostBinding& candidate : bindings) {
      if (candidate.name == import.name && candidate.module == import.module) {
        binding = &candidate;
        break;
      }
    }
    std::string qualified_name = import.module + "." + import.name;
    if (!binding || !binding->function) {
      return Error{"no host function for import " + qualified_name + " " + to_string(import.type)};
    }
    if (!same_type(binding->type, import.type)) {
      return Error{"host function for " + qualified_name + " has type " + to_string(binding->type) +
                   ", but the module imports it as " + to_string(import.type)};
    }
    if (import.type.results.size() > 1) {
      return Error{"import " + qualified_name + " returns several values; host functions " +
                   "return at most one"};
    }
    functions.push_back(binding->function);
  }
  return functions;
}

}  // namespace

Result<std::unique_ptr<Instance>> SmRuntime::instantiate(const CompiledModule& module,
                                                         const std::vector<HostBinding>& bindings,
                                                         void* host_data) {
  if (!context_->on_owner_thread()) {
    return Error{"Runtime::instantiate called on a thread other than the runtime's"};
  }
  const auto* sm_module = dynamic_cast<const SmCompiledModule*>(&module);
  if (!sm_module) return Error{"module was not compiled by the SpiderMonkey engine"};
  Result<std::vector<HostFunction>> functions = resolve_bindings(sm_module->info(), bindings);
  if (!functions) return Error{functions.error()};
  Result<std::unique_ptr<SmInstance>> instance =
      SmInstance::create(context_, sm_module->shared_from_this(), *functions, host_data);
  if (!instance) return Error{instance.error()};
  return std::unique_ptr<Instance>(std::move(*instance));
}

}  // namespace weir::wasm::sm
