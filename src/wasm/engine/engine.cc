#include "wasm/engine/engine.h"

namespace weir::wasm {

bool CompiledModule::exports_function(std::string_view name) const {
  for (const FunctionExport& exported : function_exports()) {
    if (exported.name == name) return true;
  }
  return false;
}

}  // namespace weir::wasm
