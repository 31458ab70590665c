#pragma once
// What every Wasmtime object of weir's shares: the wasm_engine_t and the epoch ticker.
// Held by shared_ptr from the Engine, its modules and their instances, so whichever goes
// last releases it.
#include <wasmtime.h>

#include <chrono>
#include <memory>

#include "wasm/engine/epoch_ticker.h"

namespace weir::wasm::wt {

struct EngineState {
  wasm_engine_t* engine = nullptr;
  std::unique_ptr<EpochTicker> ticker;
  // Deadlines are stretched this much (100 under valgrind, whose instrumented code runs
  // some 50 times slower; else 1).
  int deadline_multiplier = 1;

  ~EngineState() {
    ticker.reset();  // stops ticking before the engine goes
    if (engine) wasm_engine_delete(engine);
  }
};

}  // namespace weir::wasm::wt
