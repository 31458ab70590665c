// Shared data (with compare-and-swap), shared queues and foreign functions: the state a
// plugin shares with other VMs and workers (see shared_state.h).
#include "proxy_wasm/foreign_functions.h"
#include "proxy_wasm/host_call.h"
#include "proxy_wasm/shared_state.h"

namespace weir::proxy_wasm::host {

namespace {
// Shared data and queues are scoped by the calling VM's vm_id.
const std::string& vm_id_of(Vm& vm) { return vm.first_plugin().vm_id; }
}  // namespace

// (key, key_size, *value_ptr, *value_size, *cas)
int32_t proxy_get_shared_data(Vm& vm, const wasm::Value* a) {
  auto key = vm.slice(u32(a[0]), u32(a[1]));
  if (!key) return kIma;
  // The value and its cas as they are now (the allocator may set the key again).
  Vm::OutBuffer value(vm);
  uint32_t cas = 0;
  if (!SharedData::instance().get(vm_id_of(vm), *key, value.str(), cas)) return kNotFound;
  if (!vm.in_bounds(u32(a[4]), 4)) return kIma;
  if (WasmResult r = vm.copy_out(value, u32(a[2]), u32(a[3])); r != WasmResult::Ok) return st(r);
  return vm.write_u32(u32(a[4]), cas) ? kOk : kIma;
}

// (key, key_size, value, value_size, cas)
int32_t proxy_set_shared_data(Vm& vm, const wasm::Value* a) {
  auto key = vm.slice(u32(a[0]), u32(a[1]));
  auto value = vm.slice(u32(a[2]), u32(a[3]));
  if (!key || !value) return kIma;
  switch (SharedData::instance().set(vm_id_of(vm), *key, *value, u32(a[4]),
                                     vm.first_plugin().limits.max_shared_data_bytes)) {
    case SharedWrite::Ok:
      return kOk;
    case SharedWrite::Full:
      // Past max_shared_data_bytes. CAS_MISMATCH: the only error the Rust SDK's
      // set_shared_data returns rather than panicking on (see docs/ABI.md).
      vm.count_refusal(Vm::Refusal::SharedDataFull);
      return st(WasmResult::CasMismatch);
    case SharedWrite::CasMismatch:
      return st(WasmResult::CasMismatch);
    case SharedWrite::NotFound:
      break;
  }
  return kNotFound;
}

// (name, name_size, *token): the caller's root context owns it and gets
// proxy_on_queue_ready on this worker.
int32_t proxy_register_shared_queue(Vm& vm, const wasm::Value* a) {
  auto name = vm.slice(u32(a[0]), u32(a[1]));
  if (!name) return kIma;
  ContextBase* ctx = vm.effective_context();
  if (!ctx) return kBadArg;
  QueueOwner owner;
  owner.scheduler = vm.runtime().shared_scheduler();
  owner.vm = vm.weak_from_this();
  owner.vm_key = &vm;
  owner.root_context_id = ctx->root()->id();
  owner.max_items = vm.first_plugin().limits.max_shared_queue_items;
  owner.max_bytes = vm.first_plugin().limits.max_shared_data_bytes;
  uint32_t token = SharedQueues::instance().register_queue(vm_id_of(vm), *name, std::move(owner));
  if (token == 0) {
    vm.count_refusal(Vm::Refusal::SharedQueueFull);
    return kBadArg;
  }
  return vm.write_u32(u32(a[2]), token) ? kOk : kIma;
}

// (vm_id, vm_id_size, name, name_size, *token)
int32_t proxy_resolve_shared_queue(Vm& vm, const wasm::Value* a) {
  auto vm_id = vm.slice(u32(a[0]), u32(a[1]));
  auto name = vm.slice(u32(a[2]), u32(a[3]));
  if (!vm_id || !name) return kIma;
  auto token = SharedQueues::instance().resolve(*vm_id, *name);
  if (!token) return kNotFound;
  return vm.write_u32(u32(a[4]), *token) ? kOk : kIma;
}

// (token, data, data_size)
int32_t proxy_enqueue_shared_queue(Vm& vm, const wasm::Value* a) {
  auto data = vm.slice(u32(a[1]), u32(a[2]));
  if (!data) return kIma;
  switch (SharedQueues::instance().enqueue(u32(a[0]), *data)) {
    case SharedWrite::Ok:
      return kOk;
    case SharedWrite::Full:
      // Past the owner's max_shared_queue_items (or max_shared_data_bytes of queued
      // bytes). NOT_FOUND: the only error the Rust SDK's enqueue_shared_queue returns
      // rather than panicking on (see docs/ABI.md).
      vm.count_refusal(Vm::Refusal::SharedQueueFull);
      return kNotFound;
    case SharedWrite::NotFound:
    case SharedWrite::CasMismatch:
      break;
  }
  return kNotFound;
}

// (token, *data_ptr, *data_size)
int32_t proxy_dequeue_shared_queue(Vm& vm, const wasm::Value* a) {
  // Taken off the queue before the allocator runs (it may dequeue the next one itself);
  // bad out-pointers lose no item.
  if (!vm.in_bounds(u32(a[1]), 4) || !vm.in_bounds(u32(a[2]), 4)) return kIma;
  Vm::OutBuffer item(vm);
  WasmResult r = SharedQueues::instance().dequeue(u32(a[0]), item.str());
  if (r != WasmResult::Ok) return st(r);
  return st(vm.copy_out(item, u32(a[1]), u32(a[2])));
}

// (name, name_size, args, args_size, *result_ptr, *result_size): Envoy's compress and
// uncompress (foreign_functions.h); any other name is NOT_FOUND, as in Envoy.
int32_t proxy_call_foreign_function(Vm& vm, const wasm::Value* a) {
  auto name = vm.slice(u32(a[0]), u32(a[1]));
  auto args = vm.slice(u32(a[2]), u32(a[3]));
  if (!name || !args) return kIma;
  if (!vm.in_bounds(u32(a[4]), 4) || !vm.in_bounds(u32(a[5]), 4)) return kIma;
  Vm::OutBuffer result(vm);
  // Read in place: nothing calls into the plugin (whose allocator may move its memory)
  // before the function has returned.
  WasmResult r = call_foreign_function(*name, *args, result.str());
  if (r != WasmResult::Ok) return st(r);
  return st(vm.copy_out(result, u32(a[4]), u32(a[5])));
}

}  // namespace weir::proxy_wasm::host
