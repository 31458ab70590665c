#pragma once
// A compiled Wasmtime module with the import and export types the host layer needs, and a
// linked module: its imports bound to host functions once (a Linker's InstancePre), so
// that each new instance costs microseconds.
#include <wasmtime.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "wasm/engine/engine.h"
#include "wasm/engine/wasmtime_engine_state.h"

namespace weir::wasm::wt {

class WtCompiledModule final : public CompiledModule {
 public:
  // Takes ownership of `module`. Fails if the module needs what the host cannot give
  // (imports other than functions, values other than numbers in imported functions).
  static Result<std::shared_ptr<const WtCompiledModule>> create(std::shared_ptr<EngineState> engine,
                                                                wasmtime_module_t* module,
                                                                bool from_code_cache);
  ~WtCompiledModule() override;

  const std::vector<FunctionImport>& function_imports() const override { return imports_; }
  const std::vector<FunctionExport>& function_exports() const override { return exports_; }
  uint32_t initial_memory_pages() const override { return initial_memory_pages_; }
  bool from_code_cache() const override { return from_code_cache_; }

  wasmtime_module_t* handle() const { return module_; }
  const std::shared_ptr<EngineState>& engine() const { return engine_; }
  // The export name of the memory host functions read and write ("" if none is exported).
  const std::string& memory_export() const { return memory_export_; }
  const FunctionExport* find_export(std::string_view name) const;

 private:
  WtCompiledModule(std::shared_ptr<EngineState> engine, wasmtime_module_t* module,
                   bool from_code_cache)
      : engine_(std::move(engine)), module_(module), from_code_cache_(from_code_cache) {}
  Status read_types();

  std::shared_ptr<EngineState> engine_;
  wasmtime_module_t* module_;
  bool from_code_cache_;
  std::vector<FunctionImport> imports_;
  std::vector<FunctionExport> exports_;
  std::string memory_export_;
  uint32_t initial_memory_pages_ = 0;
};

// One host function as a linker definition: what the trampoline needs to call it.
struct BoundHostFunction {
  HostFunction function;
  FunctionType type;
  std::string qualified_name;  // "module.name", for error messages
};

class WtLinkedModule final : public LinkedModule,
                             public std::enable_shared_from_this<WtLinkedModule> {
 public:
  static Result<std::shared_ptr<const WtLinkedModule>> create(
      std::shared_ptr<const WtCompiledModule> module, const std::vector<HostBinding>& bindings);
  ~WtLinkedModule() override;

  const CompiledModule& module() const override { return *module_; }
  const WtCompiledModule& wt_module() const { return *module_; }
  Result<std::unique_ptr<Instance>> instantiate(void* host_data,
                                                const InstanceLimits& limits) const override;
  const wasmtime_instance_pre_t* instance_pre() const { return instance_pre_; }

 private:
  explicit WtLinkedModule(std::shared_ptr<const WtCompiledModule> module)
      : module_(std::move(module)) {}

  std::shared_ptr<const WtCompiledModule> module_;
  // Referenced by the linker's definitions: they live as long as this object.
  std::vector<std::unique_ptr<BoundHostFunction>> functions_;
  wasmtime_linker_t* linker_ = nullptr;
  wasmtime_instance_pre_t* instance_pre_ = nullptr;
};

}  // namespace weir::wasm::wt
