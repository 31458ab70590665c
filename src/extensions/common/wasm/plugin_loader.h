#pragma once
// What the HTTP wasm filter and the bootstrap WasmService share: reading and compiling a
// plugin's code on the main thread and a full trial start there (instantiate,
// _initialize/_start, on_vm_start, on_configure), as Envoy does with its base VM, so a bad
// plugin fails start-up with the step that failed.
#include <memory>
#include <string_view>

#include "common/result.h"
#include "config/config.h"
#include "proxy_wasm/plugin_report.h"
#include "proxy_wasm/vm.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

namespace weir::extensions::wasm {

struct LoadedPlugin {
  std::shared_ptr<const proxy_wasm::PluginSpec> spec;
  std::shared_ptr<const proxy_wasm::PluginModule> module;
};

// `kind` names the plugin in the start-up log ("wasm plugin", "wasm service").
Result<LoadedPlugin> load_and_trial_start(const config::WasmPluginConfig& config,
                                          ::weir::wasm::Engine& engine, stats::StatsStore& stats,
                                          std::string_view kind);

// The host layer's description of a configured plugin.
std::shared_ptr<const proxy_wasm::PluginSpec> plugin_spec_from_config(
    const config::WasmPluginConfig& config);

// For `weir --mode validate`: reads and compiles the plugin's code and reports on it;
// failures land in `error`.
proxy_wasm::PluginReport make_plugin_report(const config::WasmPluginConfig& config,
                                            ::weir::wasm::Engine& engine);

}  // namespace weir::extensions::wasm
