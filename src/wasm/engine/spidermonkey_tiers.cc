#include "wasm/engine/spidermonkey_tiers.h"

#include <js/ContextOptions.h>

#include <atomic>

namespace weir::wasm::sm {
namespace {

// Ion only. Measured with bench/engine_bench.cc on a 1 MB module (2 cores shared with other
// builds, so ranges over runs):
//   compile, wall / CPU of all threads: baseline 37-74 / 24-32 ms, Ion 230-410 / 180-310 ms,
//   tiered 41-115 / 36-40 ms, plus Ion's work in the background afterwards;
//   code speed (FNV over 640 KB): baseline 1.8-1.9 ms, Ion 0.78-0.93 ms; tiered runs at
//   baseline speed until its background Ion compile is done;
//   host -> wasm call cost: the same for all three (the call path dominates).
// Modules are compiled once, at config load, off the request path, and then run on every
// worker for hours: a few hundred milliseconds once buys code twice as fast from the first
// request on, the same code on every thread, and no background compile competing with
// the workers for the CPU right after a reload. Tiered would suit many large modules that
// must load fast; baseline only, reloads where compile time is all that counts.
std::atomic<WasmTiers> current_tiers{WasmTiers::kOptimizingOnly};

}  // namespace

WasmTiers wasm_tiers() { return current_tiers.load(std::memory_order_relaxed); }

void set_wasm_tiers(WasmTiers tiers) { current_tiers.store(tiers, std::memory_order_relaxed); }

void apply_wasm_tiers(JSContext* cx, WasmTiers tiers) {
  JS::ContextOptionsRef(cx)
      .setWasmBaseline(tiers != WasmTiers::kOptimizingOnly)
      .setWasmIon(tiers != WasmTiers::kBaselineOnly);
}

}  // namespace weir::wasm::sm
