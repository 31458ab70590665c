#pragma once
// The bounds a plugin runs within and what happens when it fails: the host layer's own
// types, filled from the configuration by src/extensions (the defaults are Envoy's, or
// weir's where Envoy has none, and equal to config::WasmLimits' — checked at compile
// time where the two meet, in extensions/common/wasm/plugin_loader.cc).
#include <chrono>
#include <cstdint>

namespace weir::proxy_wasm {

enum class FailurePolicy { FailClosed, FailOpen, FailReload };

// Every resource a plugin can make the host spend has a bound: past it the host call
// fails (or, for CPU time and memory, the VM is stopped and the failure policy applies).
struct PluginLimits {
  // CPU time one call into the plugin may take (a callback, the start function, the
  // allocator), including the host calls it makes.
  std::chrono::milliseconds call_deadline{100};
  // Linear memory of the VM: memory.grow past it fails inside the plugin.
  uint64_t max_memory_bytes = 256ull * 1024 * 1024;
  // proxy_http_call (and gRPC calls) in flight per VM.
  uint32_t max_outstanding_calls = 1024;
  // Body of an http_call response the host buffers for the plugin.
  uint64_t max_call_response_bytes = 4ull * 1024 * 1024;
  // Items waiting in one shared queue.
  uint32_t max_shared_queue_items = 10000;
  // Keys plus values in the shared data of one vm_id.
  uint64_t max_shared_data_bytes = 16ull * 1024 * 1024;
  // One proxy_log message (longer ones are cut, marked "...[truncated]").
  uint32_t max_log_line_bytes = 16 * 1024;
};

}  // namespace weir::proxy_wasm
