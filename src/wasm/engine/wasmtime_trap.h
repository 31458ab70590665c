#pragma once
// Wasmtime's traps and errors as weir's messages: one line each, and the Wasm frames of a
// trap (function names from the module's name section where it has one).
#include <wasmtime.h>

#include <string>

namespace weir::wasm::wt {

struct TrapDescription {
  std::string message;
  std::string backtrace;     // "#0 name (func 3 @0x5a), #1 ..." innermost first; "" if none
  bool interrupted = false;  // the epoch deadline passed
};

// Takes ownership of `trap`. `host_message` is what the host function that trapped (if
// one did) said: Wasmtime's own message for it carries the whole backtrace.
TrapDescription take_trap(wasm_trap_t* trap, std::string host_message);
// Takes ownership of `error`.
TrapDescription take_error(wasmtime_error_t* error);

}  // namespace weir::wasm::wt
