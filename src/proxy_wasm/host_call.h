#pragma once
// What every host-function implementation file shares: the implementation signature, the
// adapter that binds it to the engine, argument and status helpers. Internal to
// src/proxy_wasm (host_functions.cc holds the one table; host_*.cc implement areas).
#include <cstdint>

#include "proxy_wasm/vm.h"
#include "wasm/engine/engine.h"

namespace weir::proxy_wasm::host {

using Impl = int32_t (*)(Vm& vm, const wasm::Value* a);

inline uint32_t u32(const wasm::Value& v) { return static_cast<uint32_t>(v.i32); }
inline int32_t st(WasmResult r) { return static_cast<int32_t>(r); }
constexpr int32_t kOk = 0;
constexpr int32_t kIma = static_cast<int32_t>(WasmResult::InvalidMemoryAccess);
constexpr int32_t kBadArg = static_cast<int32_t>(WasmResult::BadArgument);
constexpr int32_t kNotFound = static_cast<int32_t>(WasmResult::NotFound);

// Wraps an implementation: finds the Vm, refuses calls into a dead VM and turns a failure
// inside a nested call (the allocator trapped) into a trap of this call too.
template <Impl F>
wasm::HostResult adapt(wasm::HostCall& c) {
  Vm& vm = *static_cast<Vm*>(c.host_data);
  vm.enter_host_call(c.instance);
  if (!vm.alive()) {
    return wasm::HostResult::trap_with("the plugin's VM has failed: " + vm.failure());
  }
  int32_t r = F(vm, c.args.data());
  if (!vm.alive()) return wasm::HostResult::trap_with(vm.failure());
  return wasm::HostResult::i32(r);
}

// host_http_call.cc
int32_t proxy_http_call(Vm& vm, const wasm::Value* a);
// host_shared_state.cc
int32_t proxy_set_shared_data(Vm& vm, const wasm::Value* a);
int32_t proxy_get_shared_data(Vm& vm, const wasm::Value* a);
int32_t proxy_register_shared_queue(Vm& vm, const wasm::Value* a);
int32_t proxy_resolve_shared_queue(Vm& vm, const wasm::Value* a);
int32_t proxy_enqueue_shared_queue(Vm& vm, const wasm::Value* a);
int32_t proxy_dequeue_shared_queue(Vm& vm, const wasm::Value* a);
int32_t proxy_call_foreign_function(Vm& vm, const wasm::Value* a);
// host_grpc.cc
int32_t proxy_grpc_call(Vm& vm, const wasm::Value* a);
int32_t proxy_grpc_stream(Vm& vm, const wasm::Value* a);
int32_t proxy_grpc_send(Vm& vm, const wasm::Value* a);
int32_t proxy_grpc_cancel(Vm& vm, const wasm::Value* a);
int32_t proxy_grpc_close(Vm& vm, const wasm::Value* a);
// host_redis.cc (Higress, 0.2.100)
int32_t proxy_redis_init(Vm& vm, const wasm::Value* a);
int32_t proxy_redis_call(Vm& vm, const wasm::Value* a);

}  // namespace weir::proxy_wasm::host
