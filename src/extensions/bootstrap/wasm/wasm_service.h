#pragma once
// The bootstrap WasmService (bootstrap_extensions: envoy.bootstrap.wasm): a plugin with a
// root context only (no streams) that can tick, make http calls, use queues and write
// shared data for filters to read.
//
// Where it runs: `singleton: true` = one VM in the process, on worker 0's event loop (it
// needs a loop and the upstream pools for proxy_http_call, which the main thread lacks).
// `singleton: false` = one VM on every worker, as Envoy does.
#include <memory>

#include "common/result.h"
#include "config/config.h"
#include "proxy/http_filter.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

namespace weir::extensions::wasm {

// The service running on one worker; destroying it (on that worker's thread, before its
// loop and HTTP client) stops the root context (proxy_on_done, proxy_on_delete).
class RunningWasmService {
 public:
  virtual ~RunningWasmService() = default;
};

class WasmServiceDefinition {
 public:
  virtual ~WasmServiceDefinition() = default;
  // Whether worker `index` runs an instance.
  virtual bool runs_on(unsigned worker_index) const = 0;
  // On the worker's thread.
  virtual Result<std::unique_ptr<RunningWasmService>> start_on_worker(
      proxy::WorkerContext& worker) = 0;
};

// On the main thread at start-up: loads the code and does a trial start (errors name the
// service and the failing step).
Result<std::shared_ptr<WasmServiceDefinition>> create_wasm_service_definition(
    const config::WasmPluginConfig& config, ::weir::wasm::Engine& engine, stats::StatsStore& stats);

}  // namespace weir::extensions::wasm
