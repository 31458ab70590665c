#pragma once
// The one trampoline every host function is called through: it finds the instance from
// the store's data, passes the arguments as weir Values, and turns a HostResult (or a C++
// exception, which must not unwind through Wasmtime) into a result or a trap.
#include <wasmtime.h>

namespace weir::wasm::wt {

// `env` is the BoundHostFunction (wasmtime_module.h) the linker was given.
wasm_trap_t* host_function_trampoline(void* env, wasmtime_caller_t* caller,
                                      wasmtime_val_raw_t* args_and_results, size_t count);

}  // namespace weir::wasm::wt
