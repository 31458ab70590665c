#pragma once
// The worker side of the Proxy-Wasm host layer's interfaces (proxy_wasm/worker_services.h):
// its timers and cross-thread posts on the worker's event loop, and its cluster calls
// through the worker's AsyncHttpClient.
#include <memory>

#include "common/result.h"
#include "proxy/http_filter.h"
#include "proxy_wasm/vm.h"
#include "wasm/engine/engine.h"

namespace weir::extensions::wasm {

// Gives the runtime the services of `worker` (its loop, its HTTP client if it has one).
// The worker's loop and client outlive every VM of the runtime.
void attach_worker_services(proxy_wasm::WorkerRuntime& runtime, proxy::WorkerContext& worker);

// On the worker's thread: its runtime, with the worker's services attached, and the plugin
// started there (what every kind of Wasm filter and service does per worker). The error
// names the worker.
Result<std::shared_ptr<proxy_wasm::WorkerPlugin>> start_worker_plugin(
    std::shared_ptr<const proxy_wasm::PluginSpec> spec,
    std::shared_ptr<const proxy_wasm::PluginModule> module, ::weir::wasm::Engine& engine,
    proxy::WorkerContext& worker);

}  // namespace weir::extensions::wasm
