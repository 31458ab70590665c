#pragma once
// A compiled module: SpiderMonkey's thread-safe, refcounted JS::WasmModule (the machine
// code), plus what the binary reader found out about its imports and exports. Every
// thread makes its own WebAssembly.Module object from it; nothing is recompiled.
#include <js/WasmModule.h>

#include <memory>
#include <string>

#include "wasm/engine/engine.h"
#include "wasm/engine/module_info.h"
#include "wasm/engine/spidermonkey_library.h"

namespace weir::wasm::sm {

class SmCompiledModule final : public CompiledModule,
                               public std::enable_shared_from_this<SmCompiledModule> {
 public:
  // `deferred_start_export`: the export to call after instantiating, in place of the
  // module's start section (see deferred_start.h); empty if it has none.
  SmCompiledModule(std::shared_ptr<Library> library, RefPtr<JS::WasmModule> module, ModuleInfo info,
                   std::string deferred_start_export)
      : library_(std::move(library)),
        module_(std::move(module)),
        info_(std::move(info)),
        deferred_start_export_(std::move(deferred_start_export)) {}

  const std::vector<FunctionImport>& function_imports() const override {
    return info_.function_imports;
  }
  const std::vector<FunctionExport>& function_exports() const override {
    return info_.function_exports;
  }
  uint32_t initial_memory_pages() const override { return info_.initial_memory_pages; }

  const ModuleInfo& info() const { return info_; }
  const std::string& deferred_start_export() const { return deferred_start_export_; }
  // A new WebAssembly.Module object in cx's current realm; nullptr with an exception on
  // failure.
  JSObject* create_module_object(JSContext* cx) const { return module_->createObject(cx); }

 private:
  std::shared_ptr<Library> library_;  // first, so it is released last: after module_
  RefPtr<JS::WasmModule> module_;
  ModuleInfo info_;
  std::string deferred_start_export_;
};

}  // namespace weir::wasm::sm
