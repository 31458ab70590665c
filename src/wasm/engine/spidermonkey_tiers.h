#pragma once
// Which of SpiderMonkey's Wasm compilers compile a module. Applied at each compile (the
// options of the compiling context decide; instantiating elsewhere never recompiles).
struct JSContext;

namespace weir::wasm::sm {

enum class WasmTiers {
  kBaselineOnly,    // fast to compile, slower code
  kOptimizingOnly,  // Ion: slower to compile, fast code from the first call
  kTiered,          // SpiderMonkey's default: baseline now, Ion in the background
};

// The process-wide choice, Ion only unless changed; the .cc says why. Benchmarks switch it
// to compare.
WasmTiers wasm_tiers();
void set_wasm_tiers(WasmTiers tiers);

void apply_wasm_tiers(JSContext* cx, WasmTiers tiers);

}  // namespace weir::wasm::sm
