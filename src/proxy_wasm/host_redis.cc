// Higress's Redis host functions (ABI 0.2.100 only): proxy_redis_init keeps a cluster's
// credentials and timeout for the VM, proxy_redis_call sends one RESP-encoded command on
// behalf of the caller's root context; the raw RESP reply comes back in
// proxy_on_redis_call_response(root, token, status, size) and is read as buffer type 9
// (Vm::redis_call, Vm::on_redis_call_done).
#include "proxy_wasm/host_call.h"

namespace weir::proxy_wasm::host {

// (cluster, cluster_size, username, username_size, password, password_size, timeout_ms)
int32_t proxy_redis_init(Vm& vm, const wasm::Value* a) {
  auto cluster = vm.slice(u32(a[0]), u32(a[1]));
  auto username = vm.slice(u32(a[2]), u32(a[3]));
  auto password = vm.slice(u32(a[4]), u32(a[5]));
  if (!cluster || !username || !password) return kIma;
  return st(vm.redis_init(*cluster, *username, *password, std::chrono::milliseconds(u32(a[6]))));
}

// (cluster, cluster_size, query, query_size, *token)
int32_t proxy_redis_call(Vm& vm, const wasm::Value* a) {
  auto cluster = vm.slice(u32(a[0]), u32(a[1]));
  auto query = vm.slice(u32(a[2]), u32(a[3]));
  if (!cluster || !query) return kIma;
  // The host holds the command until the call ends: bounded like an answer is.
  if (query->empty() || query->size() > vm.first_plugin().limits.max_call_response_bytes) {
    return kBadArg;
  }
  ContextBase* ctx = vm.effective_context();
  if (!ctx) return kBadArg;
  uint32_t token = 0;
  WasmResult r = vm.redis_call(*ctx->root(), *cluster, std::string(*query), &token);
  if (r != WasmResult::Ok) return st(r);
  return vm.write_u32(u32(a[4]), token) ? kOk : kIma;
}

}  // namespace weir::proxy_wasm::host
