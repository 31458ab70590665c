#pragma once
// SpiderMonkey runs a module's start function inside `new WebAssembly.Instance`, before the
// instance's exports exist, so host functions called from it could not reach the module's
// memory (AssemblyScript plugins log from their start function). Hence a module with a
// start section is compiled without it, its start function exported under a name of its
// own instead, and the instance calls that right after instantiating, as the start section
// would have: before anything else runs, failing instantiation if it traps.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace weir::wasm {

struct DeferredStart {
  std::vector<uint8_t> wasm;  // the module without its start section
  std::string export_name;    // the start function's export, unlike any other export's
};

// `start_function` is the index the start section names (see ModuleInfo).
Result<DeferredStart> defer_start_function(std::span<const uint8_t> wasm, uint32_t start_function);

}  // namespace weir::wasm
