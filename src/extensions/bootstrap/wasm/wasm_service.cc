#include "extensions/bootstrap/wasm/wasm_service.h"

#include <spdlog/spdlog.h>

#include "extensions/common/wasm/plugin_loader.h"
#include "extensions/common/wasm/worker_services.h"
#include "proxy_wasm/vm.h"

namespace weir::extensions::wasm {

namespace pw = ::weir::proxy_wasm;

namespace {

class RunningService final : public RunningWasmService {
 public:
  explicit RunningService(std::shared_ptr<pw::WorkerPlugin> plugin) : plugin_(std::move(plugin)) {}

 private:
  std::shared_ptr<pw::WorkerPlugin> plugin_;
};

class ServiceDefinition final : public WasmServiceDefinition {
 public:
  ServiceDefinition(LoadedPlugin loaded, bool singleton, ::weir::wasm::Engine& engine)
      : loaded_(std::move(loaded)), singleton_(singleton), engine_(engine) {}

  bool runs_on(unsigned worker_index) const override { return !singleton_ || worker_index == 0; }

  Result<std::unique_ptr<RunningWasmService>> start_on_worker(
      proxy::WorkerContext& worker) override {
    auto plugin = start_worker_plugin(loaded_.spec, loaded_.module, engine_, worker);
    if (!plugin.ok()) return Error{"wasm service '" + loaded_.spec->name + "': " + plugin.error()};
    spdlog::debug("wasm service '{}' running on worker {}", loaded_.spec->name,
                  worker.worker_index);
    return std::unique_ptr<RunningWasmService>(
        std::make_unique<RunningService>(std::move(plugin.value())));
  }

 private:
  LoadedPlugin loaded_;
  bool singleton_;
  ::weir::wasm::Engine& engine_;
};

}  // namespace

Result<std::shared_ptr<WasmServiceDefinition>> create_wasm_service_definition(
    const config::WasmPluginConfig& config, ::weir::wasm::Engine& engine,
    stats::StatsStore& stats) {
  auto loaded = load_and_trial_start(config, engine, stats, "wasm service");
  if (!loaded.ok()) return Error{"wasm service '" + config.name + "': " + loaded.error()};
  return std::shared_ptr<WasmServiceDefinition>(
      std::make_shared<ServiceDefinition>(std::move(loaded.value()), config.singleton, engine));
}

}  // namespace weir::extensions::wasm
