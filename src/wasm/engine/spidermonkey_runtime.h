#pragma once
// A thread's Runtime: its share of the thread's JSContext, and instantiation (binding
// the module's function imports to host functions).
#include <memory>

#include "wasm/engine/engine.h"
#include "wasm/engine/spidermonkey_context.h"

namespace weir::wasm::sm {

// Instances hold the context too, so destroying the Runtime before its Instances is safe;
// the intended order is still Instances first. Everything on the runtime's thread.
class SmRuntime final : public Runtime {
 public:
  explicit SmRuntime(std::shared_ptr<ThreadContext> context) : context_(std::move(context)) {}

  Result<std::unique_ptr<Instance>> instantiate(const CompiledModule& module,
                                                const std::vector<HostBinding>& bindings,
                                                void* host_data) override;

 private:
  std::shared_ptr<ThreadContext> context_;
};

}  // namespace weir::wasm::sm
