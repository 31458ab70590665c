#pragma once
// The worker side of the Proxy-Wasm host layer's interfaces (proxy_wasm/worker_services.h):
// its timers and cross-thread posts on the worker's event loop, and its cluster calls
// through the worker's AsyncHttpClient.
#include "proxy/http_filter.h"
#include "proxy_wasm/vm.h"

namespace weir::extensions::wasm {

// Gives the runtime the services of `worker` (its loop, its HTTP client if it has one).
// The worker's loop and client outlive every VM of the runtime.
void attach_worker_services(proxy_wasm::WorkerRuntime& runtime, proxy::WorkerContext& worker);

}  // namespace weir::extensions::wasm
